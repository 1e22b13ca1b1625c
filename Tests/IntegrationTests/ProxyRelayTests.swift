import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// The relay of upstream answers as bytes: the status line and header lines as the upstream sent
/// them, interim answers dropped, malformed answers refused, and a kept-alive upstream connection
/// that turns out closed retried on a new one.
final class ProxyRelayTests: ProxyTestCase {
    /// The head of the answer to one GET, as raw text (up to the blank line), and the body.
    func rawHead(_ server: TestServer) throws -> (head: String, body: String) {
        let client = try RawClient(port: server.port, timeout: 10)
        try client.send("GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        let text = String(decoding: client.readAll().bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return (text, "") }
        return (String(text[..<end.lowerBound]), String(text[end.upperBound...]))
    }

    func testStatusLineAndHeaderLinesAreRelayedByteForByte() throws {
        let ups = try fakes("raw", behavior: .init(
            rawAnswer: "HTTP/1.0 299 Quite Custom\r\nX-Odd:   spaced  \r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\n"
                + "Keep-Alive: timeout=5\r\ncontent-length: 2\r\n\r\nok"))
        let s = try startProxy(ups, route: #""retries": 0"#)
        let (head, body) = try rawHead(s)
        let lines = head.components(separatedBy: "\r\n")
        XCTAssertEqual(lines.first, "HTTP/1.1 299 Quite Custom", "the upstream's reason phrase")
        XCTAssertTrue(lines.contains("X-Odd:   spaced  "), head)
        XCTAssertEqual(lines.filter { $0.lowercased().hasPrefix("set-cookie") }, ["set-cookie: a=1", "Set-Cookie: b=2"])
        XCTAssertTrue(lines.contains("content-length: 2"))
        XCTAssertFalse(head.lowercased().contains("keep-alive: timeout"), "hop-by-hop fields are this hop's")
        XCTAssertEqual(body, "ok")
    }

    /// Bytes an upstream sends after a complete response (an unsolicited second answer, a body to
    /// a HEAD), read in the same read loop as its end because the response ended exactly where a
    /// read buffer did (2,048 bytes, NIO's first read on a new connection), are not the answer to
    /// the next request: the connection goes back to the pool only after the loop, and the stray
    /// bytes close it. (The client's pipelined second request took it at once and got the stray
    /// answer; every later answer on that client connection was one behind.)
    func testStrayBytesAfterAResponseAreNoOtherRequestsAnswer() throws {
        let head = "HTTP/1.1 200 OK\r\nX-Real: yes\r\nContent-Length: "
        let bodyLength = 2048 - head.utf8.count - "NNNN\r\n\r\n".utf8.count
        let real = head + "\(bodyLength)\r\n\r\n" + String(repeating: "r", count: bodyLength)
        XCTAssertEqual(real.utf8.count, 2048)
        let poison = "HTTP/1.1 200 OK\r\nX-Poison: yes\r\nContent-Length: 6\r\n\r\nPOISON"
        let ups = try fakes("raw", behavior: .init(rawAnswer: real + poison))
        let s = try startProxy(ups, route: #""retries": 0, "upstream_keepalive": 4"#)
        for _ in 0..<3 {
            let client = try FramedClient(port: s.port)
            try client.send(String(repeating: "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", count: 3))
            for i in 0..<3 {
                let (r, _) = try client.readResponse()
                XCTAssertEqual(r.status, 200, "answer \(i)")
                XCTAssertNil(r.header("X-Poison"), "answer \(i) was the upstream's stray bytes")
                XCTAssertEqual(r.header("X-Real"), "yes", "answer \(i)")
                XCTAssertEqual(r.body.count, bodyLength, "answer \(i)")
            }
        }
    }

    /// A response must carry a Date (RFC 9110 §6.6.1): one without gets ours on the way; the
    /// upstream's own, in any case, goes unchanged and alone.
    func testAResponseWithoutDateGainsOneAndAnUpstreamDateIsKept() throws {
        let ups = try fakes("raw", behavior: .init(rawAnswer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        let s = try startProxy(ups, route: #""retries": 0"#)
        let (head, body) = try rawHead(s)
        let dates = head.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("date:") }
        XCTAssertEqual(dates.count, 1, head)
        XCTAssertNotNil(dates.first.flatMap { HTTPDate.parse(String($0.dropFirst(6))) }, head)
        XCTAssertEqual(body, "ok")
        ups[0].behavior.rawAnswer = "HTTP/1.1 200 OK\r\ndATE: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 2\r\n\r\nok"
        let (kept, _) = try rawHead(s)
        XCTAssertEqual(kept.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("date:") },
                       ["dATE: Mon, 01 Jan 2024 00:00:00 GMT"])
    }

    /// A length the upstream gave as a list of equal values, on several lines too, reaches the
    /// client as one plain `Content-Length` line, where the first one was.
    func testAContentLengthListIsRelayedAsOneValue() throws {
        let ups = try fakes("raw", behavior: .init(
            rawAnswer: "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2, 2\r\nX-B: 2\r\ncontent-length: 2\r\n\r\nok"))
        let s = try startProxy(ups, route: #""retries": 0"#)
        let (head, body) = try rawHead(s)
        let lines = head.components(separatedBy: "\r\n")
        XCTAssertEqual(lines.filter { $0.lowercased().hasPrefix("content-length") }, ["Content-Length: 2"], head)
        XCTAssertEqual(Array(lines.dropFirst().prefix(3)), ["X-A: 1", "Content-Length: 2", "X-B: 2"], head)
        XCTAssertEqual(body, "ok")
    }

    func testInterimAnswersAreDroppedAndTheFinalOneRelayed() throws {
        let ups = try fakes("raw", behavior: .init(
            rawAnswer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 4\r\n\r\ndone"))
        let s = try startProxy(ups, route: #""retries": 0"#)
        let r = try s.get("/x")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("X-Final"), "yes")
        XCTAssertNil(r.header("Link"))
        XCTAssertEqual(r.body, Array("done".utf8))
    }

    func testMalformedAnswersAre502AndCountAsFailures() throws {
        for raw in [
            "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "SPDY/3 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        ] {
            let ups = try fakes("bad", behavior: .init(rawAnswer: raw))
            let s = try startProxy(ups, route: #""retries": 0"#)
            XCTAssertEqual(try s.get("/x").status, 502, raw.debugDescription)
            XCTAssertEqual(upstreamState(s, ups[0])?.failures.load(ordering: .relaxed), 1, raw.debugDescription)
        }
    }

    func testAKeptAliveConnectionTheUpstreamClosedIsRetriedOnANewOne() throws {
        // The upstream answers the first request of each connection and drops the connection at
        // the second, as a server whose keep-alive timeout ran out just then would.
        let ups = try fakes("a", behavior: .init(hangUpFromRequest: 2))
        let s = try startProxy(ups, route: #""retries": 0"#)
        let client = try FramedClient(port: s.port)
        for i in 0..<3 {
            try client.send("GET /k\(i) HTTP/1.1\r\nHost: h\r\n\r\n")
            let (r, _) = try client.readResponse()
            XCTAssertEqual(r.status, 200, "request \(i)")
            XCTAssertEqual(r.header("X-Upstream-Id"), "a")
        }
        XCTAssertEqual(ups[0].counters.completed, 3)
        XCTAssertGreaterThanOrEqual(ups[0].counters.connections, 3, "each retry went on a new connection")
        XCTAssertEqual(upstreamState(s, ups[0])?.failures.load(ordering: .relaxed), 0, "not the upstream's failure")
    }

    func testExpectContinueIsAnsweredBeforeTheBodyIsSent() throws {
        let ups = try fakes("echo", behavior: .init(echo: true))
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        try client.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        // The body is not sent until the 100 arrives (a curl upload waits for it).
        XCTAssertEqual(try client.readHead().status, 100)
        try client.send("hello")
        let (r, _) = try client.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.body, Array("hello".utf8))
        // Without the expectation, or without a body, there is no interim answer.
        try client.send("GET /g HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(try client.readResponse().response.status, 200)
        try client.send("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertEqual(try client.readResponse().response.status, 200)
    }

    func testAccessLogCountsBodyBytesOfProxiedAnswers() throws {
        let ups = try fakes("abcdef")  // answers with its id: 6 body bytes
        let log = NSTemporaryDirectory() + "expserver-proxy-log-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let s = try startProxy(ups, top: "\"access_log\": \"\(log)\"")
        XCTAssertEqual(try s.get("/logged").status, 200)
        var line = ""
        let deadline = Date().addingTimeInterval(3)
        while line.isEmpty && Date() < deadline {
            line = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").first.map(String.init) ?? ""
            if line.isEmpty { usleep(20_000) }
        }
        XCTAssertTrue(line.contains("\"GET /logged HTTP/1.1\" 200 6 "), "the body's bytes, as for every other answer: \(line)")
    }

    func testHTTP10KeepAliveClientIsToldAndKept() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        for path in ["/one", "/two"] {
            try client.send("GET \(path) HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
            let (r, _) = try client.readResponse()
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.header("Connection")?.lowercased(), "keep-alive", "an HTTP/1.0 client is told the connection stays")
        }
        // Without asking, an HTTP/1.0 client's connection closes after the answer.
        let plain = try FramedClient(port: s.port)
        try plain.send("GET /three HTTP/1.0\r\nHost: h\r\n\r\n")
        let (r, _) = try plain.readResponse()
        XCTAssertEqual(r.header("Connection")?.lowercased(), "close")
        XCTAssertTrue(plain.closedByPeer())
    }
}
