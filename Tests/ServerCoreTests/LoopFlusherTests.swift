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
        ca.write(NIOAny(ByteBuffer(string: "a1")), promise: nil)
        flusher.flush(ca)
        cb.write(NIOAny(ByteBuffer(string: "b1")), promise: nil)
        flusher.flush(cb)
        ca.write(NIOAny(ByteBuffer(string: "a2")), promise: nil)
        flusher.flush(ca)
        XCTAssertEqual(try outbound(a), [])
        XCTAssertEqual(try outbound(b), [])
        loop.run()
        XCTAssertEqual(try outbound(a), ["a1", "a2"])
        XCTAssertEqual(try outbound(b), ["b1"])
        // The next batch schedules itself again.
        cb.write(NIOAny(ByteBuffer(string: "b2")), promise: nil)
        flusher.flush(cb)
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
        ca.write(NIOAny(ByteBuffer(string: "first")), promise: promise)
        flusher.flush(ca)
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
        ca.write(NIOAny(ByteBuffer(string: "lost")), promise: nil)
        flusher.flush(ca)
        cb.write(NIOAny(ByteBuffer(string: "kept")), promise: nil)
        flusher.flush(cb)
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
