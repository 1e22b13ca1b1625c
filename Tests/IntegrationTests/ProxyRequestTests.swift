import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// What reaches the upstream: the request line as sent, the client's headers in order with the
/// hop-by-hop ones dropped, X-Forwarded-For/Proto added, and request bodies intact whatever
/// their framing.
final class ProxyRequestTests: ProxyTestCase {
    func testRequestLineAndHeadersAsTheUpstreamSeesThem() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups)
        let r = try s.request(
            "GET /api/v1/items?q=1&r=%20 HTTP/1.1\r\nHost: app.example:8002\r\nUser-Agent: t/1\r\nX-Forwarded-For: 203.0.113.9\r\n"
                + "Connection: close, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nAccept-Encoding: gzip, deflate\r\n\r\n",
            source: "127.0.0.2")
        XCTAssertEqual(r.status, 200)
        let seen = try XCTUnwrap(ups[0].seen.first)
        XCTAssertEqual(seen.method, "GET")
        XCTAssertEqual(seen.target, "/api/v1/items?q=1&r=%20", "not rewritten, prefix not stripped")
        XCTAssertEqual(seen.header("Host"), "app.example:8002", "Host is kept")
        XCTAssertEqual(seen.header("User-Agent"), "t/1")
        XCTAssertEqual(seen.header("Accept-Encoding"), "gzip, deflate")
        XCTAssertEqual(seen.headers("X-Forwarded-For"), ["203.0.113.9, 127.0.0.2"])
        XCTAssertEqual(seen.header("X-Forwarded-Proto"), "http")
        XCTAssertNil(seen.header("X-Hop"), "named by Connection")
        XCTAssertNil(seen.header("Keep-Alive"))
        XCTAssertNotEqual(seen.header("Connection")?.lowercased().contains("x-hop"), true)
    }

    /// Each hop appends the address it got the request from; `X-Forwarded-Proto` is ours unless a
    /// trusted proxy sent one (a client must not be able to claim https).
    func testForwardedFieldsBehindATrustedProxyAndFromAClient() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups, top: #""acl": { "trusted_proxies": ["127.0.0.5"] }"#)
        let head = "GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n"
        XCTAssertEqual(try s.request(head, source: "127.0.0.5").status, 200)
        XCTAssertEqual(try s.request(head, source: "127.0.0.2").status, 200)
        XCTAssertEqual(ups[0].seen.count, 2)
        let viaProxy = try XCTUnwrap(ups[0].seen.first), direct = try XCTUnwrap(ups[0].seen.last)
        XCTAssertEqual(viaProxy.headers("X-Forwarded-For"), ["1.2.3.4, 127.0.0.5"], "the proxy's hop, not the client twice")
        XCTAssertEqual(viaProxy.headers("X-Forwarded-Proto"), ["https"], "a trusted proxy's")
        XCTAssertEqual(direct.headers("X-Forwarded-For"), ["1.2.3.4, 127.0.0.2"])
        XCTAssertEqual(direct.headers("X-Forwarded-Proto"), ["http"], "a client's claim is replaced")
    }

    /// An HTTP/1.0 request without `Host` goes upstream as HTTP/1.1, which must have one (RFC 9112
    /// §3.2): it gains the address the client connected to.
    func testAnHTTP10RequestWithoutHostGainsOne() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups)
        let r = try s.request("GET /old HTTP/1.0\r\nUser-Agent: t/1\r\n\r\n")
        XCTAssertEqual(r.status, 200)
        let seen = try XCTUnwrap(ups[0].seen.first)
        XCTAssertEqual(seen.version, "HTTP/1.1")
        XCTAssertEqual(seen.headers("Host"), ["127.0.0.1:\(s.port)"])
        XCTAssertEqual(seen.headers.first?.0, "Host", "first, as a client puts it")
        XCTAssertEqual(seen.header("User-Agent"), "t/1")
    }

    /// TRACE (the upstream would echo cookies and credentials back) and CONNECT (a tunnel to an
    /// address of the client's choosing) are not relayed: 405, as nginx answers.
    func testTraceAndConnectAreNotRelayed() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups)
        for method in ["TRACE", "CONNECT"] {
            let r = try s.request("\(method) /x HTTP/1.1\r\nHost: h\r\nCookie: secret=1\r\nConnection: close\r\n\r\n")
            XCTAssertEqual(r.status, 405, method)
            XCTAssertEqual(r.header("Allow"), "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH", method)
        }
        XCTAssertEqual(try s.request("OPTIONS /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").status, 200)
        XCTAssertEqual(ups[0].seen.map(\.method), ["OPTIONS"], "only the OPTIONS reached the upstream")
    }

    /// A `Connection` naming `Host` does not make the upstream request lose it.
    func testConnectionNamingHostKeepsIt() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups)
        XCTAssertEqual(try s.request("GET /x HTTP/1.1\r\nHost: app.test\r\nConnection: host, close\r\n\r\n").status, 200)
        XCTAssertEqual(try XCTUnwrap(ups[0].seen.first).headers("Host"), ["app.test"])
    }

    /// An h2c upgrade is not offered upstream (a tunnel would carry requests past the routes and
    /// their access lists, "h2c smuggling"): the request goes as a plain one, without `Upgrade`.
    func testAnH2CUpgradeIsNotOffered() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups)
        let r = try s.request(
            "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
                + "Connection: Upgrade, HTTP2-Settings, close\r\n\r\n")
        XCTAssertEqual(r.status, 200)
        let seen = try XCTUnwrap(ups[0].seen.first)
        XCTAssertNil(seen.header("Upgrade"))
        XCTAssertNil(seen.header("HTTP2-Settings"), "named by Connection")
        XCTAssertNotEqual(seen.header("Connection")?.lowercased().contains("upgrade"), true)
    }

    func testPOSTWithContentLengthIsForwardedIntact() throws {
        let ups = try fakes("echo", behavior: .init(echo: true))
        let s = try startProxy(ups)
        let body = (0..<200_000).map { FakeUpstream.pattern($0) }
        let client = try FramedClient(port: s.port)
        try client.send(Array("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body)
        let (r, _) = try client.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("X-Body-Bytes"), String(body.count))
        XCTAssertEqual(r.header("X-Body-Pattern"), "ok")
        XCTAssertTrue(r.body == body, "echoed \(r.body.count) bytes")
        let seen = try XCTUnwrap(ups[0].seen.first)
        XCTAssertEqual(seen.method, "POST")
        XCTAssertEqual(seen.header("Content-Length"), String(body.count))
        XCTAssertNil(seen.header("Transfer-Encoding"))
    }

    func testChunkedPOSTIsForwardedChunkedAndIntact() throws {
        let ups = try fakes("echo", behavior: .init(echo: true))
        let s = try startProxy(ups)
        let text = "hello, chunked world: " + String(repeating: "0123456789", count: 1000)
        let bytes = Array(text.utf8)
        var request = "POST /c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        var offset = 0
        for size in [1, 7, 4096, bytes.count - 4104] {
            request += String(size, radix: 16) + "\r\n" + String(decoding: bytes[offset..<offset + size], as: UTF8.self) + "\r\n"
            offset += size
        }
        request += "0\r\n\r\n"
        let client = try FramedClient(port: s.port)
        try client.send(request)
        let (r, _) = try client.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, text)
        let seen = try XCTUnwrap(ups[0].seen.first)
        XCTAssertEqual(seen.header("Transfer-Encoding"), "chunked")
        XCTAssertNil(seen.header("Content-Length"))
    }

    func testPUTAndDELETEAndHEADAreRelayed() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups)
        XCTAssertEqual(try s.request("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi").header("X-Body-Bytes"), "2")
        XCTAssertEqual(try s.request("DELETE /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").status, 200)
        let head = try s.request("HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", head: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), "1", "the upstream's length for its GET body")
        XCTAssertEqual(ups[0].seen.map(\.method), ["PUT", "DELETE", "HEAD"])
    }

    /// A chunked body that grows past the route's limit while the upstream has not answered:
    /// 413 for the proxied request, the connection closes, the upstream request is dropped.
    func testChunkedBodyBeyondTheLimitIs413BeforeTheUpstreamAnswers() throws {
        let ups = try fakes("held", behavior: .init(holdPrefix: "/held"))
        let s = try startProxy(ups, route: #""max_body_bytes": 10"#)
        let x = try exchange(s, "POST /held HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n")
        XCTAssertEqual(x.response.status, 413)
        XCTAssertTrue(x.closed)
        assertDefaultHeaders(x.response)
        // The server goes on proxying.
        ups[0].release()
        XCTAssertEqual(try s.get("/after").status, 200)
    }

    /// The upstream answers before the request's body has all arrived: the answer goes out, the
    /// rest of the body is read and dropped, and when it grows past the limit the connection
    /// closes without a second answer for the same request.
    func testBodyPastTheLimitAfterTheAnswerClosesWithoutASecondAnswer() throws {
        let ups = try fakes("early")
        ups[0].behavior.answerBeforeBody = true
        let s = try startProxy(ups, route: #""max_body_bytes": 10"#)
        let client = try RawClient(port: s.port)
        try client.send("POST /early HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        try client.send("8\r\n01234567\r\n")
        let rest = client.readAll()
        XCTAssertTrue(rest.closed)
        XCTAssertEqual(String(decoding: rest.bytes, as: UTF8.self), "", "no second answer")
    }

    /// An answer before the body has all arrived (an upstream refusing an upload early): the rest
    /// of the body is read and dropped, and the connection serves the next request.
    func testAnswerBeforeTheBodyEndsKeepsTheConnection() throws {
        let ups = try fakes("early")
        ups[0].behavior.answerBeforeBody = true
        let s = try startProxy(ups)
        let client = try RawClient(port: s.port)
        try client.send("POST /early HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123")
        XCTAssertEqual(try client.readResponse().status, 200)
        try client.send("456789GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        let next = try client.readResponse()
        XCTAssertEqual(next.status, 200)
        XCTAssertEqual(ups[0].seen.last?.target, "/next")
    }
}
