import NIOCore
import NIOEmbedded
import XCTest

@testable import ServerCore

/// Deferred flushes: nothing leaves before the loop runs its tasks (the end of the batch of
/// events), then every channel asked for is flushed, in order, once per batch of requests, and a
/// flush asked for while flushing joins the same round.
final class LoopFlusherTests: XCTestCase {
    final class Probe: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
    }

    func makeChannel(_ loop: EmbeddedEventLoop) throws -> (EmbeddedChannel, ChannelHandlerContext) {
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(Probe())
        let context = try channel.pipeline.syncOperations.context(handlerType: Probe.self)
        return (channel, context)
    }

    /// Writes `text` on `context` and asks `flusher` to flush it (what the handlers do).
    func send(_ text: String, on context: ChannelHandlerContext, via flusher: LoopFlusher, promise: EventLoopPromise<Void>? = nil) {
        context.write(NIOAny(ByteBuffer(string: text)), promise: promise)
        flusher.flush(context)
    }

    func outbound(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out.append(String(buffer: buffer)) }
        return out
    }

    func testWritesLeaveAtTheEndOfTheBatch() throws {
        let loop = EmbeddedEventLoop()
        let flusher = LoopFlusher(eventLoop: loop)
        let (a, ca) = try makeChannel(loop)
        let (b, cb) = try makeChannel(loop)
        send("a1", on: ca, via: flusher)
        send("b1", on: cb, via: flusher)
        send("a2", on: ca, via: flusher)
        XCTAssertEqual(try outbound(a), [])
        XCTAssertEqual(try outbound(b), [])
        loop.run()
        XCTAssertEqual(try outbound(a), ["a1", "a2"])
        XCTAssertEqual(try outbound(b), ["b1"])
        // The next batch schedules itself again.
        send("b2", on: cb, via: flusher)
        XCTAssertEqual(try outbound(b), [])
        loop.run()
        XCTAssertEqual(try outbound(b), ["b2"])
        _ = try a.finish()
        _ = try b.finish()
    }

    /// A write's completion that writes again (the next pipelined answer) is flushed in the
    /// same round, not left waiting for another event.
    func testAFlushAskedForWhileFlushingJoinsTheRound() throws {
        let loop = EmbeddedEventLoop()
        let flusher = LoopFlusher(eventLoop: loop)
        let (a, ca) = try makeChannel(loop)
        let promise = loop.makePromise(of: Void.self)
        let bound = NIOLoopBound(ca, eventLoop: loop)
        promise.futureResult.whenSuccess {
            bound.value.write(NIOAny(ByteBuffer(string: "second")), promise: nil)
            flusher.flush(bound.value)
        }
        send("first", on: ca, via: flusher, promise: promise)
        loop.run()
        XCTAssertEqual(try outbound(a), ["first", "second"])
        _ = try a.finish()
    }

    /// A channel closed before the round: its flush is a no-op, the others still go.
    func testAClosedChannelDoesNotStopTheRound() throws {
        let loop = EmbeddedEventLoop()
        let flusher = LoopFlusher(eventLoop: loop)
        let (a, ca) = try makeChannel(loop)
        let (b, cb) = try makeChannel(loop)
        send("lost", on: ca, via: flusher)
        send("kept", on: cb, via: flusher)
        _ = try? a.close().wait()
        loop.run()
        XCTAssertEqual(try outbound(b), ["kept"])
        _ = try b.finish()
    }

    /// `stop` (at shutdown) lets the flusher go; a round queued before it still runs.
    func testStopReleasesTheFlusherAndAQueuedRoundStillRuns() throws {
        let loop = EmbeddedEventLoop()
        var flusher: LoopFlusher? = LoopFlusher(eventLoop: loop)
        let (a, ca) = try makeChannel(loop)
        ca.write(NIOAny(ByteBuffer(string: "x")), promise: nil)
        flusher!.flush(ca)
        flusher!.stop()
        weak let gone = flusher
        flusher = nil
        XCTAssertNotNil(gone, "the queued round holds it until it runs")
        loop.run()
        XCTAssertEqual(try outbound(a), ["x"])
        XCTAssertNil(gone, "released once the round ran")
        _ = try? a.finish()
    }
}
