import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// A proxied upload whose upstream stops taking the body: the client's reads are held
/// (backpressure) and its `body_ms` does not run meanwhile (the client is waiting for us, not
/// slow); the upstream is bounded instead by `upstream_read_ms`, which counts while it takes none
/// of the request (504, as nginx's `proxy_send_timeout`). Bodies are large enough to fill every
/// socket buffer on the way (`body_ms` 300, well below how long the upstream stalls).
final class ProxyStalledUploadTests: ProxyTestCase {
    /// Sends up to `total` pattern bytes; how many went before the server closed the connection
    /// (or took nothing for the client's send timeout).
    func sendBody(_ client: RawClient, _ total: Int) -> Int {
        var sent = 0
        while sent < total {
            let n = min(FakeUpstream.block.count, total - sent)
            do { try client.send(Array(FakeUpstream.block[..<n])) } catch { break }
            sent += n
        }
        return sent
    }

    /// A POST of `total` pattern bytes to `s`: what the client sent, the answer (nil: the
    /// connection ended without one) and how long it all took.
    func upload(_ s: TestServer, _ total: Int) throws -> (sent: Int, response: HTTPResult?, seconds: Double) {
        let client = try RawClient(port: s.port, timeout: 10)
        try client.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: \(total)\r\n\r\n")
        let started = Date()
        let sent = sendBody(client, total)
        let response = try? client.readResponse()
        return (sent, response, Date().timeIntervalSince(started))
    }

    /// An upstream that accepts and never reads: after `upstream_read_ms` (1.5 s) without taking
    /// any of the request it times out like a silent one, and the client gets 504 (not a reset
    /// at `body_ms`, and not counted as the client's body timeout).
    func testAnUpstreamThatTakesNoneOfTheBodyGives504() throws {
        let ups = try fakes("deaf")
        ups[0].behavior.neverRead = true
        let s = try startProxy(ups, top: #""timeouts": { "body_ms": 300, "upstream_read_ms": 1500 }"#)
        let total = 64 << 20
        // (After the 504 the rest of the body is read and dropped for a while: lingering close.)
        let (_, response, seconds) = try upload(s, total)
        let r = try XCTUnwrap(response, "an answer, not a reset")
        XCTAssertEqual(r.status, 504)
        assertDefaultHeaders(r)
        XCTAssertGreaterThanOrEqual(seconds, 1.0, "upstream_read_ms, not body_ms")
        XCTAssertLessThan(seconds, 15)
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.body), 0, "not the client's timeout")
        let st = try XCTUnwrap(upstreamState(s, ups[0]))
        XCTAssertEqual(st.failures.load(ordering: .relaxed), 1, "the upstream's")
        XCTAssertEqual(st.inFlight.load(ordering: .relaxed), 0)
        XCTAssertEqual(s.server.state.stats.reqCurrent.load(ordering: .relaxed), 0)
    }

    /// An upstream that stops reading for 1 s (longer than body_ms, shorter than
    /// upstream_read_ms) and then reads on gets the whole body, and the client its answer.
    func testAnUpstreamThatPausesLongerThanBodyMsGetsTheWholeBody() throws {
        let ups = try fakes("busy")
        ups[0].behavior.bodyPauseMs = 1000
        let s = try startProxy(ups, top: #""timeouts": { "body_ms": 300, "upstream_read_ms": 5000 }"#)
        let total = 16 << 20
        let (sent, response, _) = try upload(s, total)
        XCTAssertEqual(sent, total)
        let r = try XCTUnwrap(response, "an answer, not a reset")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("X-Body-Bytes"), String(total))
        XCTAssertEqual(r.header("X-Body-Pattern"), "ok")
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.body), 0)
        XCTAssertEqual(upstreamState(s, ups[0])?.failures.load(ordering: .relaxed), 0)
    }

    /// The control: an upstream that reads as the body comes gets all of it with the same
    /// timeouts (the holds of ordinary backpressure neither expire body_ms nor upstream_read_ms).
    func testAnUpstreamThatReadsNormallyGetsTheWholeBody() throws {
        let ups = try fakes("sink")
        let s = try startProxy(ups, top: #""timeouts": { "body_ms": 300, "upstream_read_ms": 1500 }"#)
        let total = 8 << 20
        let (sent, response, _) = try upload(s, total)
        XCTAssertEqual(sent, total)
        let r = try XCTUnwrap(response)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("X-Body-Bytes"), String(total))
        XCTAssertEqual(r.header("X-Body-Pattern"), "ok")
        XCTAssertEqual(s.server.state.connectionStats.totalTimeouts, 0)
    }
}
