import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// One answer per request, also when its body turns out malformed after it was answered: a
/// second answer would be taken by a pipelining (or kept-alive) client as the answer to its next
/// request. The connection closes instead (its next request's start cannot be found).
final class OneAnswerPerRequestTests: ProxyTestCase {
    /// `/up` proxies to `upstream`, everything else is file_serve; request bodies up to 100 bytes.
    func start(_ upstream: FakeUpstream) throws -> TestServer {
        try startServer("""
            { "workers": 1, "limits": { "max_body_bytes": 100 },
              "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                "routes": [ { "req_path": "/up", "type": "reverse_proxy", "upstreams": [\(quoted(upstream))] },
                            { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] } ] }
            """)
    }

    /// The rest of a chunked body that is not chunked, then a pipelined request.
    static let malformedRest = "zz\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n"

    /// What comes after the responses read so far, until the server closes (which it must).
    func restUntilClose(_ client: RawClient, file: StaticString = #filePath, line: UInt = #line) -> String {
        let (bytes, closed) = client.readAll()
        XCTAssertTrue(closed, "the connection closes", file: file, line: line)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The upstream answers (401) before the body has all come; the rest of the body is malformed:
    /// the 401 was the answer, no 400 follows it.
    func testAMalformedBodyAfterAnEarlyProxiedAnswerGetsNoSecondAnswer() throws {
        let ups = try fakes("early")
        ups[0].behavior.answerBeforeBody = true
        ups[0].behavior.status = 401
        let s = try start(ups[0])
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        XCTAssertEqual(try client.readResponse().status, 401)
        try client.send(Self.malformedRest)
        XCTAssertEqual(restUntilClose(client), "", "no second answer")
        XCTAssertEqual(ups[0].seen.map(\.target), ["/up"], "nothing after it was read as a request")
        XCTAssertEqual(s.server.state.stats.all.requests, 1)
        XCTAssertEqual(s.server.state.stats.reqCurrent.load(ordering: .relaxed), 0)
    }

    /// A 413 (the body went over `max_body_bytes` as it was read), proxied or not, is the answer
    /// even when what follows is malformed.
    func testAMalformedBodyAfterA413GetsNoSecondAnswer() throws {
        let ups = try fakes("a")
        let s = try start(ups[0])
        for path in ["/up", "/sample.txt"] {
            let client = try RawClient(port: s.port, timeout: 5)
            try client.send("POST \(path) HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n"
                            + String(repeating: "a", count: 128) + "\r\n" + Self.malformedRest)
            XCTAssertEqual(try client.readResponse().status, 413, path)
            XCTAssertEqual(restUntilClose(client), "", "\(path): no second answer")
        }
        XCTAssertEqual(s.server.state.stats.all.requests, 2)
    }

    /// A file answer is decided at the head and sent at the request's end: a body that goes bad
    /// first gets the 400 instead, and only that.
    func testAMalformedBodyOfAFileRequestGetsOnlyThe400() throws {
        let ups = try fakes("a")
        let s = try start(ups[0])
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("POST /sample.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        Thread.sleep(forTimeInterval: 0.1)  // (the answer waits for the end)
        try client.send(Self.malformedRest)
        XCTAssertEqual(try client.readResponse().status, 400)
        XCTAssertEqual(restUntilClose(client), "")
        XCTAssertEqual(s.server.state.stats.all.requests, 1)
    }

    /// A malformed body that arrived while an earlier proxied answer was awaited (so its parts
    /// were queued) is handled as one that arrives at once: its proxied request is dropped, and
    /// the 400 is its one answer (not also a 499 for the dropped upstream request when the
    /// connection closes).
    func testAMalformedBodyQueuedBehindAProxiedAnswerGetsOnlyThe400() throws {
        let ups = try fakes("a", behavior: .init(delayMs: 200))
        let s = try start(ups[0])
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("GET /up/first HTTP/1.1\r\nHost: h\r\n\r\n"
                        + "POST /up/second HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" + Self.malformedRest)
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertEqual(try client.readResponse().status, 400)
        XCTAssertEqual(restUntilClose(client), "")
        Thread.sleep(forTimeInterval: 0.3)  // anything counted late would be in by now
        XCTAssertEqual(s.server.state.stats.all.requests, 2)
        XCTAssertEqual(s.server.state.stats.all.status(4), 1)
        XCTAssertEqual(s.server.state.stats.reqCurrent.load(ordering: .relaxed), 0)
    }
}
