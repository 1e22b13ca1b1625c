import Foundation
import XCTest

@testable import ServerCore

/// Timeouts and limits with short configured values (a few hundred ms).
final class TimeoutTests: ServerTestCase {
    func config(timeouts: String = "", limits: String = "", routeExtra: String = "") -> String {
        """
        { "workers": 2, \(timeouts.isEmpty ? "" : "\"timeouts\": { \(timeouts) },") \(limits.isEmpty ? "" : "\"limits\": { \(limits) },")
          "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
            "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" \(routeExtra) } ] } ] }
        """
    }

    func testTrickledHeadGets408AtTheDeadline() throws {
        let s = try startServer(config(timeouts: #""header_ms": 400"#))
        let client = try RawClient(port: s.port, timeout: 5)
        let start = Date()
        // Trickle a byte every 50 ms: the deadline does not move.
        for byte in "GET /sample.txt HTTP/1.1\r\nHost: x\r\n".utf8.prefix(12) {
            try? client.send([byte])
            usleep(50_000)
        }
        let (bytes, closed) = client.readAll()
        XCTAssertTrue(closed)
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 408"), String(decoding: bytes, as: UTF8.self))
        XCTAssertLessThan(Date().timeIntervalSince(start), 3, "closed near the deadline, not extended by the trickle")
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.header), 1)
    }

    func testSlowHeadIsPacedAndStillServed() throws {
        let s = try startServer(config(timeouts: #""header_ms": 5000"#))
        let client = try RawClient(port: s.port, timeout: 10)
        let request = Array("GET /sample.txt HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        // About 1.4 s for the head: its reads are paced from 0.5 s on; it is served all the same.
        for byte in request.dropLast(2) {
            try client.send([byte])
            usleep(40_000)
        }
        try client.send(Array(request.suffix(2)))
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertGreaterThan(s.server.state.connectionStats.slowHeadPauses.load(ordering: .relaxed), 0)
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.header), 0)
        // The same connection goes on normally.
        try client.send("GET /sample.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
    }

    /// A head that arrives in time is served even when its last bytes came during a read pause
    /// that lasts until the deadline (they are read before the deadline is acted on).
    func testHeadCompletedDuringAPauseEndingAtTheDeadlineIsServed() throws {
        let s = try startServer(config(timeouts: #""header_ms": 2000"#))
        let client = try RawClient(port: s.port, timeout: 10)
        try client.send("GET /sample.txt HTTP/1.1\r\n")
        usleep(1_100_000)
        try client.send("Host: x\r\n")  // read at 1.1 s: paced until the deadline (2 s)
        usleep(100_000)
        try client.send("Connection: close\r\n\r\n")  // complete at 1.2 s
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.header), 0)
    }

    func test408ArrivesWhileTheClientKeepsSending() throws {
        // Paced reads leave bytes unread at the deadline; the lingering close still gets the 408
        // to the client (a plain close with unread input would reset the connection).
        let s = try startServer(config(timeouts: #""header_ms": 1200"#))
        let client = try RawClient(port: s.port, timeout: 10)
        try client.send("GET /sample.txt HTTP/1.1\r\nHost: x\r\nX-Long: ")
        let start = Date()
        while Date().timeIntervalSince(start) < 2 {
            try? client.send(Array("aaaa".utf8))
            usleep(20_000)
        }
        let (bytes, closed) = client.readAll()
        XCTAssertTrue(closed)
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 408"), String(decoding: bytes, as: UTF8.self))
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.header), 1)
    }

    func testExpectContinueOnAStaticRouteAndBeyondTheBodyLimit() throws {
        let s = try startServer(config(limits: #""max_body_bytes": 10"#))
        let plain = try FramedClient(port: s.port)
        try plain.send("POST /sample.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        let expected = try plain.readResponse().response.status
        let client = try FramedClient(port: s.port)
        try client.send("POST /sample.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(try client.readHead().status, 100)
        try client.send("abc")
        XCTAssertEqual(try client.readResponse().response.status, expected, "then the same answer as without it")
        // Over the body limit: the final answer instead of 100; the body is never asked for.
        let big = try FramedClient(port: s.port)
        try big.send("POST /sample.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(try big.readHead().status, 413)
    }

    func testNeverSpokeAndIdleKeepAliveCloseSilently() throws {
        let s = try startServer(config(timeouts: #""header_ms": 300, "keepalive_ms": 300"#))
        let silent = try RawClient(port: s.port, timeout: 5)
        let (bytes, closed) = silent.readAll()
        XCTAssertTrue(closed)
        XCTAssertTrue(bytes.isEmpty, "nothing is sent to a connection that never spoke")
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("GET /sample.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        let (more, closedIdle) = client.readAll()
        XCTAssertTrue(closedIdle)
        XCTAssertTrue(more.isEmpty, "idle keep-alive is closed without a response")
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.neverSpoke), 1)
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.keepalive), 1)
    }

    func testDefaultIncompleteHeadClosesSilently() throws {
        // header_ms not configured: eXpServer's behaviour (a silent close), shortened via a server override.
        let json = """
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }], "timeouts": { "keepalive_ms": 300 },
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] } ] }
            """
        let s = try startServer(json)
        XCTAssertFalse(s.server.state.current.config.timeouts(for: s.server.state.current.config.listeners[0]).respond408)
    }

    func testBodyTimeoutCloses() throws {
        let s = try startServer(config(timeouts: #""body_ms": 300"#))
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("POST /sample.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        let (_, closed) = client.readAll()
        XCTAssertTrue(closed)
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.body), 1)
    }

    /// Asks for a 64 MiB file with `extraHeaders`, reads nothing, and checks that the server
    /// gives up on the client at send_ms (300 ms here).
    func assertClosedWhenTheClientStopsReading(extraHeaders: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try makeFixture()
        try fixture.write(Data(count: 64 << 20), to: "public/huge.bin")
        let s = try startServer(config(timeouts: #""send_ms": 300"#), fixture: fixture)
        let client = try RawClient(port: s.port, timeout: 5)
        var size: Int32 = 4096
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        try client.send("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\(extraHeaders)\r\n")
        // Do not read; wait (bounded) for the server to give up on us.
        let deadline = Date().addingTimeInterval(10)
        while s.server.state.connectionStats.timeouts(.send) == 0 && Date() < deadline { usleep(20_000) }
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.send), 1, file: file, line: line)
    }

    /// A client that keeps reading, slowly, is not cut off however long the transfer takes:
    /// send_ms is the longest the client may take nothing, not the transfer's length.
    func testASlowButReadingClientGetsTheWholeFile() throws {
        let fixture = try makeFixture()
        try fixture.write(Data(count: 24 << 20), to: "public/big.bin")
        let s = try startServer(config(timeouts: #""send_ms": 300"#), fixture: fixture)
        for extra in ["", "Connection: close\r\n"] {
            let client = try RawClient(port: s.port, timeout: 5)
            var size: Int32 = 65536
            setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            try client.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\(extra)\r\n")
            var total = 0
            let started = Date()
            while total < (24 << 20) + 100, Date().timeIntervalSince(started) < 20 {
                guard let chunk = client.readChunk(max: 256 << 10) else { break }
                total += chunk.count
                usleep(10_000)  // about 1.5 s for the whole file: well past send_ms
            }
            XCTAssertGreaterThan(total, 24 << 20, "\(extra.isEmpty ? "keep-alive" : "close"): got \(total) bytes in \(Date().timeIntervalSince(started)) s")
        }
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.send), 0)
    }

    func testClientThatStopsReadingIsClosed() throws {
        try assertClosedWhenTheClientStopsReading()
    }

    /// A streamed body (a gzipped file over 1 MiB, written a piece at a time, never filling the
    /// channel past its high-water mark) gets send_ms too, keep-alive or HTTP/1.0 close-delimited.
    func testAStreamedBodyWhoseClientStopsReadingIsClosed() throws {
        let fixture = try makeFixture()
        var rng = SplitMix64(seed: 7)
        var text = [UInt8]()
        text.reserveCapacity(16 << 20)
        let hex = Array("0123456789abcdef".utf8)
        while text.count < 16 << 20 {  // hex noise: compresses to about half, more than the socket buffers hold
            let r = rng.next()
            for k in 0..<16 { text.append(hex[Int((r >> (4 * UInt64(k))) & 15)]) }
            if text.count % 1024 == 0 { text.append(10) }
        }
        try fixture.write(Data(text), to: "public/huge.txt")
        let s = try startServer(config(timeouts: #""send_ms": 300"#, routeExtra: #", "gzip_enable": true"#), fixture: fixture)
        for (n, request) in ["GET /huge.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
                             "GET /huge.txt HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n"].enumerated() {
            let client = try RawClient(port: s.port, timeout: 5)
            var size: Int32 = 4096
            setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            try client.send(request)
            XCTAssertTrue(pollUntil(timeout: 10) { s.server.state.connectionStats.timeouts(.send) == n + 1 }, request)
        }
    }

    /// The same when the answer is the connection's last (`Connection: close`): a connection that
    /// closes once its writes are out gets send_ms for them, not forever.
    func testAClosingConnectionWhoseClientStopsReadingIsClosed() throws {
        try assertClosedWhenTheClientStopsReading(extraHeaders: "Connection: close\r\n")
    }

    func testHeaderAndBodyLimits() throws {
        let s = try startServer(config(limits: #""max_header_bytes": 4096, "max_body_bytes": 10"#, routeExtra: ""))
        let big = String(repeating: "a", count: 3000)
        let r1 = try exchange(s, "GET / HTTP/1.1\r\nHost: x\r\nX-A: \(big)\r\nX-B: \(big)\r\n\r\n").response
        XCTAssertEqual(r1.status, 431)
        let r2 = try exchange(s, "POST /sample.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890")
        XCTAssertEqual(r2.response.status, 413)
        XCTAssertTrue(r2.closed)
        let chunked = try exchange(s, "POST /sample.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n")
        XCTAssertEqual(chunked.response.status, 413)
        let ok = try exchange(s, "POST /sample.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc").response
        XCTAssertEqual(ok.status, 200)
    }

    func testRouteBodyLimitOverridesTheTopLevel() throws {
        let s = try startServer(config(limits: #""max_body_bytes": 10"#, routeExtra: #", "max_body_bytes": 1000"#))
        let r = try exchange(s, "POST /sample.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nConnection: close\r\n\r\n01234567890123456789").response
        XCTAssertEqual(r.status, 200)
    }

    func testMaxRequestsPerConnection() throws {
        let s = try startServer(config(limits: #""max_requests_per_connection": 2"#))
        let client = try RawClient(port: s.port)
        try client.send("GET /sample.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /sample.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try client.readResponse()
        XCTAssertNil(first.header("Connection"))
        let second = try client.readResponse()
        XCTAssertEqual(second.header("Connection"), "close")
        XCTAssertTrue(client.readAll().closed)
    }

    func testMaxConnections() throws {
        let s = try startServer(config(limits: #""max_connections": 3"#))
        let held = try (0..<3).map { _ in try RawClient(port: s.port) }
        // Let the server register them.
        for c in held { try c.send("GET /sample.txt HTTP/1.1\r\nHost: x\r\n\r\n"); XCTAssertEqual(try c.readResponse().status, 200) }
        let extra = try RawClient(port: s.port, timeout: 3)
        let (bytes, closed) = extra.readAll()
        XCTAssertTrue(closed)
        XCTAssertTrue(bytes.isEmpty)
        XCTAssertEqual(s.server.state.connectionStats.refused.load(ordering: .relaxed), 1)
        // The established ones still work.
        try held[0].send("GET /sample.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try held[0].readResponse().status, 200)
    }
}
