import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

@testable import ServerCore
import TestSupport

/// Bodies larger than 100 MiB stream through the proxy both ways with flat memory (backpressure:
/// the server holds upstream reads while the client is slow, and client reads while the upstream
/// is), and a client that goes away mid-response closes the upstream connection. The server runs
/// in this process, so its memory is this process's resident set (VmRSS), sampled during the
/// transfer; the fake upstream and the client use fixed buffers.
final class ProxyStreamingTests: ProxyTestCase {
    static let large = 128 << 20
    static let maxGrowth = 50 << 20

    func testLargeResponseStreamsWithFlatMemory() throws {
        let ups = try fakes("big")
        let s = try startProxy(ups)
        _ = try ids(s, 1)  // warm up: connections, buffers, code paths
        ups[0].behavior.bodyBytes = Self.large
        let before = residentMemoryBytes()
        var peak = before
        let client = try FramedClient(port: s.port, timeout: 30)
        try client.send("GET /big HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let head = try client.readHead()
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), String(Self.large))
        var misplaced = 0
        var nextSample = 0
        let received = client.streamBody(length: Self.large) { offset, bytes in
            if bytes[0] != FakeUpstream.pattern(offset) || bytes[bytes.count - 1] != FakeUpstream.pattern(offset + bytes.count - 1) {
                misplaced += 1
            }
            if offset >= nextSample {
                peak = max(peak, residentMemoryBytes())
                nextSample = offset + (4 << 20)
            }
        }
        peak = max(peak, residentMemoryBytes())
        XCTAssertEqual(received, Self.large)
        XCTAssertEqual(misplaced, 0, "every piece at its offset")
        XCTAssertTrue(client.closedByPeer())
        XCTAssertLessThan(peak - before, Self.maxGrowth, "resident memory grew by \((peak - before) >> 20) MiB for a \(Self.large >> 20) MiB body")
        XCTAssertEqual(upstreamState(s, ups[0])?.inFlight.load(ordering: .relaxed), 0)
    }

    func testLargeUploadStreamsWithFlatMemory() throws {
        let ups = try fakes("sink")
        let s = try startProxy(ups)
        _ = try ids(s, 1)
        let before = residentMemoryBytes()
        var peak = before
        let client = try FramedClient(port: s.port, timeout: 30)
        try client.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(Self.large)\r\nConnection: close\r\n\r\n")
        var sent = 0
        while sent < Self.large {
            let n = min(FakeUpstream.block.count, Self.large - sent)
            try client.send(Array(FakeUpstream.block[..<n]))
            sent += n
            if sent % (4 << 20) == 0 { peak = max(peak, residentMemoryBytes()) }
        }
        let (r, _) = try client.readResponse()
        peak = max(peak, residentMemoryBytes())
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("X-Body-Bytes"), String(Self.large))
        XCTAssertEqual(r.header("X-Body-Pattern"), "ok")
        XCTAssertEqual(ups[0].counters.bodyBytes, Self.large)
        XCTAssertLessThan(peak - before, Self.maxGrowth, "resident memory grew by \((peak - before) >> 20) MiB for a \(Self.large >> 20) MiB upload")
    }

    func testClientDisconnectingMidResponseClosesTheUpstreamConnection() throws {
        let ups = try fakes("endless")
        ups[0].behavior.bodyBytes = 1 << 40  // far more than will ever be read
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port, timeout: 10)
        try client.send("GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertEqual(try client.readHead().status, 200)
        XCTAssertEqual(client.streamBody(length: 1 << 20) { _, _ in }, 1 << 20)
        XCTAssertEqual(ups[0].counters.active, 1, "still streaming")
        shutdown(client.raw.fd, Int32(SHUT_RDWR))

        XCTAssertTrue(pollUntil(timeout: 10) { ups[0].counters.aborted == 1 }, "the upstream saw its connection end: \(ups[0].counters)")
        XCTAssertEqual(ups[0].counters.active, 0)
        XCTAssertTrue(pollUntil(timeout: 5) { upstreamState(s, ups[0])?.inFlight.load(ordering: .relaxed) == 0 })
        // The server carries on.
        ups[0].behavior = .init()
        XCTAssertEqual(try hit(s).id, "endless")
    }

    func testSlowReaderHoldsTheUpstreamBack() throws {
        // Backpressure: while the client reads nothing, the upstream can only fill the socket
        // buffers in between, far less than the body.
        let ups = try fakes("big")
        ups[0].behavior.bodyBytes = Self.large
        let s = try startProxy(ups)
        let before = residentMemoryBytes()
        let client = try FramedClient(port: s.port, timeout: 30)
        try client.send("GET /big HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(try client.readHead().status, 200)
        // Wait (bounded) until the upstream's writes stop making progress.
        var last = -1
        let stalled = pollUntil(timeout: 20) {
            let sent = ups[0].counters.bytesSent
            defer { last = sent }
            usleep(300_000)
            return sent == last && ups[0].counters.bytesSent == sent
        }
        XCTAssertTrue(stalled, "the upstream kept writing: \(ups[0].counters.bytesSent) bytes")
        XCTAssertLessThan(ups[0].counters.bytesSent, Self.large, "held back, not buffered by the server")
        XCTAssertEqual(ups[0].counters.completed, 0)
        XCTAssertLessThan(residentMemoryBytes() - before, Self.maxGrowth)
        XCTAssertEqual(client.streamBody(length: Self.large) { _, _ in }, Self.large, "then everything arrives")
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].counters.completed == 1 })
    }

    /// Bodies without a length (chunked, or until the upstream closes) go through the relay's
    /// parser and out chunked to an HTTP/1.1 client, every byte in its place.
    func testLargeChunkedAndCloseDelimitedAnswersAreRelayedIntact() throws {
        let size = 8 << 20
        for behavior in [FakeUpstream.Behavior(bodyBytes: size, chunked: true), FakeUpstream.Behavior(bodyBytes: size, closeDelimited: true)] {
            let ups = try fakes(behavior.chunked ? "chunked" : "close", behavior: behavior)
            let s = try startProxy(ups)
            let client = try FramedClient(port: s.port, timeout: 30)
            try client.send("GET /big HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            let (r, framing) = try client.readResponse()
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(framing, .chunked, "no length: chunked to an HTTP/1.1 client")
            XCTAssertEqual(r.body.count, size)
            let misplaced = stride(from: 0, to: r.body.count, by: 4093).filter { r.body[$0] != FakeUpstream.pattern($0) }.count
            XCTAssertEqual(misplaced, 0)
            XCTAssertEqual(r.body.last, FakeUpstream.pattern(size - 1))
        }
    }
}
