import Foundation
import Synchronization
import XCTest

@testable import ServerCore
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Tunnels through the proxy (a WebSocket handshake, RFC 9110 §7.8): a request that offers to
/// switch protocols goes upstream with its offer; a 101 makes both connections one tunnel, bytes
/// both ways as they come, until either side closes or `upstream_read_ms` passes with none; any
/// other answer is an ordinary one, and what the client sent after the request is its next one.
final class ProxyTunnelTests: ProxyTestCase {
    static let handshake = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: k1\r\nSec-WebSocket-Version: 13\r\n\r\n"

    var tunnel: FakeUpstream.Behavior {
        var b = FakeUpstream.Behavior()
        b.tunnel = true
        return b
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// A client whose offer the upstream `a` accepted, its greeting read.
    func tunnelClient(_ s: TestServer, file: StaticString = #filePath, line: UInt = #line) throws -> FramedClient {
        let c = try FramedClient(port: s.port)
        try c.send(Self.handshake)
        XCTAssertEqual(try c.readHead().status, 101, file: file, line: line)
        XCTAssertEqual(text(try c.readExact(8)), "hello a\n", file: file, line: line)
        return c
    }

    func testAWebSocketHandshakeBecomesATunnel() throws {
        let ups = try fakes("a", behavior: tunnel)
        let s = try startProxy(ups)
        let c = try FramedClient(port: s.port)
        try c.send(Self.handshake)
        let head = try c.readHead()
        XCTAssertEqual(head.status, 101)
        XCTAssertEqual(head.header("Upgrade"), "websocket")
        XCTAssertEqual(head.header("Connection"), "upgrade")
        XCTAssertEqual(head.header("Sec-WebSocket-Accept"), "accept-k1")
        XCTAssertEqual(head.header("X-Upstream-Id"), "a")
        XCTAssertNil(head.header("Content-Length"))
        XCTAssertNil(head.header("Transfer-Encoding"))
        XCTAssertEqual(text(try c.readExact(8)), "hello a\n", "bytes after the 101 in the same upstream write")

        let seen = try XCTUnwrap(ups[0].seen.first)
        XCTAssertEqual(seen.header("Upgrade"), "websocket")
        XCTAssertEqual(seen.headers("Connection"), ["upgrade"])
        XCTAssertEqual(seen.header("Sec-WebSocket-Key"), "k1")
        XCTAssertEqual(seen.header("X-Forwarded-For"), "127.0.0.1")

        for i in 0..<5 {
            let message = "message \(i)"
            try c.send(message)
            XCTAssertEqual(text(try c.readExact(message.utf8.count)), message)
        }

        // 8 MiB each way at once (the echo sends back as it reads): backpressure both ways.
        let total = 8 << 20
        let fd = c.raw.fd
        let sender = Thread {
            var sent = 0
            while sent < total {
                let skip = sent % 256  // (the pattern repeats every 256 bytes: a short send goes on from where it stopped)
                let n = FakeUpstream.block.withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress! + skip, min($0.count - skip, total - sent), Int32(MSG_NOSIGNAL))
                }
                guard n > 0 else { return }
                sent += n
            }
        }
        sender.start()
        var received = 0
        var patternOK = true
        _ = c.streamBody(length: total) { offset, bytes in
            for (i, b) in bytes.enumerated() where b != FakeUpstream.pattern(offset + i) { patternOK = false }
            received = offset + bytes.count
        }
        XCTAssertEqual(received, total)
        XCTAssertTrue(patternOK)

        // The client leaves: so does the upstream connection, and the request is done.
        close(c.raw.fd)
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].openConnections == 0 })
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].counters.completed == 1 })
        XCTAssertEqual(ups[0].counters.bodyBytes, total + 5 * 9)
    }

    func testTheUpstreamClosingEndsTheTunnelAndTheRequestIsLogged() throws {
        let log = try makeFixture().root.appendingPathComponent("access.log").path
        var b = tunnel
        b.tunnelCloseAfterGreeting = true
        let ups = try fakes("a", behavior: b)
        let s = try startProxy(ups, top: "\"access_log\": \"\(log)\"")
        let c = try tunnelClient(s)
        XCTAssertTrue(c.closedByPeer())
        XCTAssertTrue(pollUntil(timeout: 5) {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("\"GET /chat HTTP/1.1\" 101 8 ")
        })
    }

    func testARefusedOfferIsAnOrdinaryAnswerAndWhatFollowsIsTheNextRequest() throws {
        let ups = try fakes("a")  // no tunnels: a 200 with its id
        let s = try startProxy(ups)
        let c = try FramedClient(port: s.port)
        try c.send(Self.handshake + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        let (first, _) = try c.readResponse()
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(text(first.body), "a")
        let (second, _) = try c.readResponse()
        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(ups[0].seen.map(\.target), ["/chat", "/next"])
        XCTAssertEqual(ups[0].seen.first?.header("Upgrade"), "websocket", "offered")
        XCTAssertNil(ups[0].seen.last?.header("Upgrade"))
        // The connection goes on as HTTP.
        try c.send("GET /third HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(try c.readResponse().response.status, 200)
    }

    /// An offer needs HTTP/1.1, `Upgrade`, the `upgrade` token and no body: otherwise `Upgrade`
    /// is hop-by-hop as before, and the request an ordinary one.
    func testIncompleteOffersAreNotRelayed() throws {
        let ups = try fakes("a", behavior: tunnel)
        let s = try startProxy(ups)
        for request in [
            "GET /a HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
            "GET /b HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n",
            "GET /c HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "POST /d HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\nContent-Length: 2\r\n\r\nhi",
        ] {
            let c = try FramedClient(port: s.port)
            try c.send(request)
            let (r, _) = try c.readResponse()
            XCTAssertEqual(r.status, 200, request)
            XCTAssertEqual(text(r.body), "a", request)
        }
        XCTAssertEqual(ups[0].seen.count, 4)
        for seen in ups[0].seen {
            XCTAssertNil(seen.header("Upgrade"), seen.target)
            XCTAssertFalse(seen.headers("Connection").contains { $0.lowercased().contains("upgrade") }, seen.target)
        }
    }

    /// `upstream_read_ms` is the tunnel's idle timeout: bytes either way keep it open.
    func testAnIdleTunnelCloses() throws {
        let ups = try fakes("a", behavior: tunnel)
        let s = try startProxy(ups, top: #""timeouts": { "upstream_read_ms": 500 }"#)
        let c = try tunnelClient(s)
        for i in 0..<8 {  // 1.2 s in all: longer than the timeout, but never idle that long
            usleep(150_000)
            try c.send("\(i)")
            XCTAssertEqual(text(try c.readExact(1)), "\(i)")
        }
        XCTAssertTrue(c.closedByPeer(), "closed once idle")
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].openConnections == 0 })
    }

    /// Bytes the client sends right behind its offer (not waiting for the 101) are held while the
    /// upstream decides, and go through the tunnel first.
    func testBytesBehindTheOfferGoThroughTheTunnel() throws {
        let ups = try fakes("a", behavior: tunnel)
        let s = try startProxy(ups)
        let c = try FramedClient(port: s.port)
        try c.send(Self.handshake + "early bytes")
        XCTAssertEqual(try c.readHead().status, 101)
        XCTAssertEqual(text(try c.readExact(8 + 11)), "hello a\nearly bytes")
        try c.send("later")
        XCTAssertEqual(text(try c.readExact(5)), "later")
    }

    /// The client's bytes alone are activity too (an upstream that only listens).
    func testTheClientsBytesAloneKeepATunnelOpen() throws {
        var b = tunnel
        b.tunnelSilent = true
        let ups = try fakes("a", behavior: b)
        let s = try startProxy(ups, top: #""timeouts": { "upstream_read_ms": 500 }"#)
        let c = try tunnelClient(s)
        for i in 0..<8 {  // 1.2 s in all
            usleep(150_000)
            try c.send("\(i)")
        }
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].counters.bodyBytes == 8 })
        XCTAssertEqual(ups[0].openConnections, 1, "still open")
        XCTAssertTrue(c.closedByPeer(), "closed once idle")
    }

    /// An offer answered at once, while its head is being decoded (no upstream to try: 502), is
    /// an ordinary answer: nothing is held after it, and the connection ends as a 502's does.
    func testAnOfferAnsweredAtOnceHoldsNothing() throws {
        let ups = try fakes("a", behavior: tunnel)
        let s = try startServer(proxyConfig(["{ \"address\": \"\(ups[0].address)\", \"weight\": 0 }"]))
        let c = try FramedClient(port: s.port)
        try c.send(Self.handshake + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(try c.readResponse().response.status, 502)
        XCTAssertTrue(c.closedByPeer())
        XCTAssertEqual(ups[0].requests, 0)
        XCTAssertEqual(try s.get("/after").status, 502, "the server goes on")
    }

    /// The upstream's last bytes reach the client when the tunnel ends, also while the client
    /// keeps sending and reads slowly (a close with its bytes unread would reset the connection
    /// and destroy what it had not read yet).
    func testTheUpstreamsLastBytesReachAClientThatKeepsSending() throws {
        var b = tunnel
        let total = 4 << 20
        b.tunnelSendThenEnd = total
        let ups = try fakes("a", behavior: b)
        let s = try startProxy(ups)
        let c = try tunnelClient(s)
        let fd = c.raw.fd
        let done = Atomic<Bool>(false)
        let sender = Thread {
            for _ in 0..<3000 where !done.load(ordering: .relaxed) {  // (at most 30 s)
                let sent = Array("sixteen bytes...".utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, 16, Int32(MSG_NOSIGNAL)) }
                if sent <= 0 { return }
                usleep(10_000)
            }
        }
        sender.start()
        defer { done.store(true, ordering: .relaxed) }
        var received = 0
        var patternOK = true
        let got = c.streamBody(length: total) { offset, bytes in
            for (i, byte) in bytes.enumerated() where byte != FakeUpstream.pattern(offset + i) { patternOK = false }
            received = offset + bytes.count
            usleep(2_000)  // a slow reader
        }
        XCTAssertEqual(got, total)
        XCTAssertEqual(received, total)
        XCTAssertTrue(patternOK)
        XCTAssertTrue(c.closedByPeer(), "then the end")
    }

    /// What the client sent just before it left reaches the upstream, also when the upstream was
    /// not reading then.
    func testTheClientsLastBytesReachTheUpstreamAfterItLeaves() throws {
        var b = tunnel
        b.tunnelSilent = true
        b.tunnelReadDelayMs = 500
        let ups = try fakes("a", behavior: b)
        let s = try startProxy(ups)
        let c = try tunnelClient(s)
        let total = 8 << 20
        var sent = 0
        while sent < total {
            let n = min(FakeUpstream.block.count, total - sent)
            try c.send(Array(FakeUpstream.block[..<n]))
            sent += n
        }
        close(c.raw.fd)
        XCTAssertTrue(pollUntil(timeout: 20) { ups[0].counters.bodyBytes == total }, "\(ups[0].counters.bodyBytes) of \(total)")
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].openConnections == 0 })
    }

    /// A reset from the upstream ends a tunnel like a close: not a failure of the upstream, nor a
    /// connection error.
    func testAResetEndsATunnelWithoutBlame() throws {
        var b = tunnel
        b.tunnelReset = true
        let ups = try fakes("a", behavior: b)
        let s = try startProxy(ups)
        let errors = s.server.state.stats.connErrors.load(ordering: .relaxed)
        let c = try tunnelClient(s)
        XCTAssertTrue(c.closedByPeer())
        XCTAssertEqual(upstreamState(s, ups[0])?.failures.load(ordering: .relaxed), 0)
        XCTAssertEqual(s.server.state.stats.connErrors.load(ordering: .relaxed), errors)
    }

    /// A tunnel's latency is the time to its 101, not its life.
    func testATunnelsLatencyIsTheTimeToItsAnswer() throws {
        let ups = try fakes("a", behavior: tunnel)
        let s = try startProxy(ups)
        let c = try FramedClient(port: s.port)
        try c.send(Self.handshake)
        XCTAssertEqual(try c.readHead().status, 101)
        usleep(1_200_000)
        close(c.raw.fd)
        let all = s.server.state.stats.all
        XCTAssertTrue(pollUntil(timeout: 5) { all.requests == 1 })
        XCTAssertEqual(all.status(1), 1)
        XCTAssertLessThan(all.latency.snapshot().sum, 1_000_000, "microseconds: well under the tunnel's 1.2 s")
    }

    /// A 101 must name what it switches to (RFC 9110 §15.2.2): one without `Upgrade` is the
    /// upstream's failure.
    func testA101WithoutUpgradeIs502() throws {
        var b = FakeUpstream.Behavior(rawAnswer: "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\nbytes")
        b.tunnel = false
        let ups = try fakes("a", behavior: b)
        let s = try startProxy(ups, route: #""retries": 0"#)
        let c = try FramedClient(port: s.port)
        try c.send(Self.handshake)
        XCTAssertEqual(try c.readResponse().response.status, 502)
    }

    /// An access-list entry that denies a tunnel's client closes its tunnel at its next byte
    /// either way, as it would refuse the next request of a kept-alive connection; other
    /// clients' tunnels and entries go on.
    func testDenyingAClientClosesItsTunnel() throws {
        let ups = try fakes("a", behavior: tunnel)
        let s = try startProxy(ups)
        let c = try tunnelClient(s)
        let other = try FramedClient(port: s.port, source: "127.0.0.2")
        try other.send(Self.handshake)
        XCTAssertEqual(try other.readHead().status, 101)
        XCTAssertEqual(text(try other.readExact(8)), "hello a\n")
        let audit = AuditRecord(time: 0, uid: nil, pid: nil, action: "acl", arguments: "", result: "ok", reason: nil)
        try s.server.state.access.put(
            ACLEntry(cidr: CIDR("127.0.0.3")!, action: .deny, source: .manual, createdAt: Date().timeIntervalSince1970), audit: audit)
        try c.send("still allowed")
        XCTAssertEqual(text(try c.readExact(13)), "still allowed", "another client's entry")
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].counters.bodyBytes == 13 })
        try s.server.state.access.put(
            ACLEntry(cidr: CIDR("127.0.0.1")!, action: .deny, source: .manual, createdAt: Date().timeIntervalSince1970), audit: audit)
        try? c.send("denied now")
        XCTAssertTrue(c.closedByPeer(), "closed, nothing echoed")
        try other.send("other")
        XCTAssertEqual(text(try other.readExact(5)), "other", "127.0.0.2's tunnel goes on")
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].openConnections == 1 })
        XCTAssertEqual(ups[0].counters.bodyBytes, 13 + 5, "the denied client's bytes never reached the upstream")
        let entry = s.server.state.access.list(includeExpired: false).first { $0.entry.cidr == CIDR("127.0.0.1")! }
        XCTAssertEqual(entry?.hits, 1, "the refusal counts for the entry")
    }
}
