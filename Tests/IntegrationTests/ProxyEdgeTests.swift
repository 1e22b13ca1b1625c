import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// The edges of a proxied request's life: an answer that comes before the request's body has
/// all arrived (the client's deadlines afterwards), an upload slower than `upstream_read_ms`, a
/// client that leaves mid-request (`req_current`), a route's only upstream failing once, and a
/// request that cannot be sent again after a kept-alive connection was found closed.
final class ProxyEdgeTests: ProxyTestCase {
    /// A proxy whose upstream answers a POST as soon as its head arrives (keepalive_ms 300,
    /// header_ms and body_ms 3 s), and a client that has sent 4 of the body's 10 bytes and read
    /// the answer.
    func earlyAnswered() throws -> (TestServer, FakeUpstream, RawClient) {
        let ups = try fakes("early")
        ups[0].behavior.answerBeforeBody = true
        let s = try startProxy(ups, top: #""timeouts": { "keepalive_ms": 300, "header_ms": 3000, "body_ms": 3000 }"#)
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("POST /early HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123")
        XCTAssertEqual(try client.readResponse().status, 200)
        return (s, ups[0], client)
    }

    /// After an early answer the rest of the body is still timed as a body (not as an idle
    /// connection, nor as a slow head), and the next request is served.
    func testTheRestOfABodyAfterAnEarlyAnswerIsTimedAsABody() throws {
        let (s, upstream, client) = try earlyAnswered()
        Thread.sleep(forTimeInterval: 0.6)  // past keepalive_ms, well within body_ms
        try client.send("456789")
        Thread.sleep(forTimeInterval: 0.1)
        try client.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200, "the connection was kept through the body")
        XCTAssertEqual(upstream.seen.last?.target, "/next")
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.keepalive), 0)
    }

    /// Once that body has ended, the connection is idle between requests: keepalive_ms closes it.
    func testAConnectionIdleAfterAnEarlyAnswerIsClosedAtItsKeepAliveDeadline() throws {
        let (s, _, client) = try earlyAnswered()
        try client.send("456789")
        let started = Date()
        let (bytes, closed) = client.readAll()
        XCTAssertTrue(closed, "closed, not left open without a deadline")
        XCTAssertTrue(bytes.isEmpty)
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.keepalive), 1)
    }

    /// `upstream_read_ms` runs from the end of the request: an upload that takes longer is not
    /// the upstream's timeout (nor its failure).
    func testAnUploadSlowerThanTheReadTimeoutIsAnswered() throws {
        let ups = try fakes("echo", behavior: .init(echo: true))
        let s = try startProxy(ups, top: #""timeouts": { "upstream_read_ms": 300, "body_ms": 3000 }"#)
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 40\r\n\r\n")
        for piece in ["0123456789", "abcdefghij", "ABCDEFGHIJ", "klmnopqrst"] {
            Thread.sleep(forTimeInterval: 0.25)  // 1 s in all
            try client.send(piece)
        }
        let r = try client.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(String(decoding: r.body, as: UTF8.self), "0123456789abcdefghijABCDEFGHIJklmnopqrst")
        XCTAssertEqual(upstreamState(s, ups[0])?.failures.load(ordering: .relaxed), 0)
    }

    /// The timeout still applies once the request is sent.
    func testTheReadTimeoutStartsWhenTheRequestIsSent() throws {
        let ups = try fakes("slow", behavior: .init(delayMs: 10_000))
        let s = try startProxy(ups, top: #""timeouts": { "upstream_read_ms": 300, "body_ms": 3000 }"#)
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab")
        Thread.sleep(forTimeInterval: 0.5)
        try client.send("cd")
        let started = Date()
        XCTAssertEqual(try client.readResponse().status, 504)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.2, "timed from the request's end")
    }

    /// A proxied answer that began before a graceful stop says `Connection: close` (as the
    /// server's own answers then do, and HAProxy's), and the connection closes after it.
    func testAnAnswerDuringAGracefulStopSaysConnectionClose() throws {
        let ups = try fakes("a", behavior: .init(holdPrefix: "/held"))
        let s = try startProxy(ups)
        let client = try RawClient(port: s.port, timeout: 10)
        try client.send("GET /held HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].counters.held == 1 })
        let stopped = DispatchSemaphore(value: 0)
        let server = s.server  // (HTTPServer is Sendable; the test's wrapper is not)
        DispatchQueue.global().async {
            server.shutdown(grace: .seconds(5))
            stopped.signal()
        }
        usleep(200_000)  // (the stop has asked the connection to finish)
        ups[0].release()
        let r = try client.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Connection"), "close")
        XCTAssertTrue(client.readAll().closed)
        XCTAssertEqual(stopped.wait(timeout: .now() + 10), .success)
    }

    /// A client gone before its answer is no longer counted in `req_current`.
    func testAClientThatLeavesMidRequestIsNotLeftInFlight() throws {
        let ups = try fakes("slow", behavior: .init(delayMs: 400))
        let s = try startProxy(ups)
        let stats = s.server.state.stats
        for _ in 0..<3 {
            let client = try RawClient(port: s.port, timeout: 5)
            try client.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
            Thread.sleep(forTimeInterval: 0.1)  // the head is read and the request counted
        }  // (each client closes as it goes out of scope)
        let deadline = Date().addingTimeInterval(5)
        while stats.reqCurrent.load(ordering: .relaxed) != 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(stats.reqCurrent.load(ordering: .relaxed), 0)
        XCTAssertEqual(try s.get("/after").status, 200)
        XCTAssertEqual(stats.reqCurrent.load(ordering: .relaxed), 0)
        XCTAssertEqual(upstreamState(s, ups[0])?.inFlight.load(ordering: .relaxed), 0)
    }

    /// A route's only upstream is not marked down by a failure (nginx's rule): the next request
    /// goes to it again rather than getting 502 for `fail_timeout_ms`. Its failures still count.
    func testARoutesOnlyUpstreamIsNotMarkedDownByFailures() throws {
        let ups = try fakes("only", behavior: .init(hangUp: true))
        let s = try startProxy(ups)
        XCTAssertEqual(try s.get("/a").status, 502)
        ups[0].behavior.hangUp = false
        XCTAssertEqual(try hit(s, "/b").id, "only")
        let st = try XCTUnwrap(upstreamState(s, ups[0]))
        XCTAssertEqual(st.failures.load(ordering: .relaxed), 1)
        XCTAssertEqual(st.stateName(now: Date().timeIntervalSince1970), "active")
    }

    /// An upstream connection idle in the pool past `upstream_keepalive_ms` is not used again
    /// (one the upstream may be closing just then): the next request gets a new one.
    func testAnUpstreamConnectionIdlePastItsLimitIsNotReused() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups, top: #""timeouts": { "upstream_keepalive_ms": 300 }"#)
        XCTAssertEqual(try hit(s, "/1").id, "a")
        XCTAssertEqual(try hit(s, "/2").id, "a")
        XCTAssertEqual(ups[0].counters.connections, 1, "reused while fresh")
        Thread.sleep(forTimeInterval: 0.6)
        XCTAssertEqual(try hit(s, "/3").id, "a")
        XCTAssertEqual(ups[0].counters.connections, 2, "a new connection after the idle limit")
        XCTAssertEqual(try hit(s, "/4").id, "a")
        XCTAssertEqual(ups[0].counters.connections, 2)
    }

    /// A POST on a kept-alive connection the upstream had closed may have been acted on: it is
    /// not sent again (502), and it is not held against the upstream.
    func testAPOSTOnAStaleConnectionIsNotResentNorCountedAsAFailure() throws {
        let ups = try fakes("a", behavior: .init(hangUpFromRequest: 2))
        let s = try startProxy(ups, route: #""retries": 0"#)
        let client = try FramedClient(port: s.port)
        try client.send("GET /first HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(try client.readResponse().0.status, 200)
        try client.send("POST /second HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
        XCTAssertEqual(try client.readResponse().0.status, 502)
        XCTAssertEqual(ups[0].counters.completed, 1, "not sent again")
        XCTAssertEqual(upstreamState(s, ups[0])?.failures.load(ordering: .relaxed), 0, "not the upstream's failure")
        XCTAssertEqual(try hit(s, "/third").id, "a")
    }

    /// `max_requests_per_connection` counts proxied answers too: the last one says so and the
    /// connection closes after it.
    func testProxiedAnswersCountTowardMaxRequestsPerConnection() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups, top: #""limits": { "max_requests_per_connection": 2 }"#)
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try client.readResponse()
        XCTAssertEqual(first.status, 200)
        XCTAssertNil(first.header("Connection"))
        let second = try client.readResponse()
        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(second.header("Connection"), "close")
        XCTAssertTrue(client.readAll().closed)
        XCTAssertEqual(ups[0].seen.map(\.target), ["/1", "/2"], "the third was not answered")
    }


    /// Polls `path` (up to 3 s) until it holds `count` lines.
    func logLines(_ path: String, atLeast count: Int) -> [String] {
        let deadline = Date().addingTimeInterval(3)
        var lines: [String] = []
        repeat {
            lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            if lines.count >= count { break }
            usleep(20_000)
        } while Date() < deadline
        return lines
    }

    /// Proxied requests that end early are logged and counted like the others: a response cut
    /// short by the upstream with the status the client got and the bytes that went; a client
    /// that left first with nginx's 499.
    func testCutShortAndAbandonedProxiedRequestsAreLoggedAndCounted() throws {
        let cut = try fakes("cut")
        cut[0].behavior.rawAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"  // then it closes
        let slow = try fakes("slow")
        slow[0].behavior.delayMs = 2_000
        let big = try fakes("big")
        big[0].behavior.bodyBytes = 64 << 20
        let log = NSTemporaryDirectory() + "expserver-proxy-log-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let s = try startServer("""
            { "workers": 1, "access_log": "\(log)",
              "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                "routes": [ { "req_path": "/cut", "type": "reverse_proxy", "upstreams": [\(quoted(cut[0]))] },
                            { "req_path": "/slow", "type": "reverse_proxy", "upstreams": [\(quoted(slow[0]))] },
                            { "req_path": "/big", "type": "reverse_proxy", "upstreams": [\(quoted(big[0]))] } ] } ] }
            """)
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("GET /cut HTTP/1.1\r\nHost: h\r\n\r\n")
        let (bytes, closed) = client.readAll()
        XCTAssertTrue(closed)
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasSuffix("0123456789"))
        do {
            let leaving = try RawClient(port: s.port, timeout: 5)
            try leaving.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
            let deadline = Date().addingTimeInterval(5)
            while slow[0].requests == 0 && Date() < deadline { usleep(10_000) }
        }  // it closes here, before the answer
        do {
            let reader = try RawClient(port: s.port, timeout: 5)
            try reader.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
            XCTAssertNotNil(reader.readChunk())
        }  // it closes here, with most of the body still to come
        let lines = logLines(log, atLeast: 3)
        XCTAssertTrue(lines.contains { $0.contains("\"GET /cut HTTP/1.1\" 200 10 ") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.contains("\"GET /slow HTTP/1.1\" 499 0 ") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.contains("\"GET /big HTTP/1.1\" 200 ") }, "the status it was getting: \(lines)")
        let stats = s.server.state.stats
        XCTAssertEqual(stats.all.requests, 3)
        XCTAssertEqual(stats.all.status(2), 2)
        XCTAssertEqual(stats.all.status(4), 1)
        XCTAssertEqual(stats.reqCurrent.load(ordering: .relaxed), 0)
    }


    /// A proxied request whose own body turns out malformed gets the 400 (the upstream request is
    /// dropped), counted and logged once.
    func testAMalformedBodyOfAProxiedRequestIsAnsweredAndLoggedOnce() throws {
        let ups = try fakes("a")
        let log = NSTemporaryDirectory() + "expserver-proxy-log-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let s = try startProxy(ups, top: #""access_log": "\#(log)""#)
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n")
        XCTAssertEqual(try client.readResponse().status, 400)
        XCTAssertTrue(client.readAll().closed)
        Thread.sleep(forTimeInterval: 0.3)  // anything logged late would be in by now
        let lines = logLines(log, atLeast: 1)
        XCTAssertEqual(lines.count, 1, "\(lines)")
        XCTAssertTrue(lines.first?.contains("\"POST /up HTTP/1.1\" 400 ") == true, "\(lines)")
        XCTAssertEqual(s.server.state.stats.all.requests, 1)
        XCTAssertEqual(s.server.state.stats.reqCurrent.load(ordering: .relaxed), 0)
        XCTAssertEqual(upstreamState(s, ups[0])?.inFlight.load(ordering: .relaxed), 0)
    }

}
