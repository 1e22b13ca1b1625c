import NIOHTTP1
import XCTest

@testable import ServerCore

/// Header rewriting for the proxy (RFC 9110 §7.6.1): hop-by-hop fields dropped both ways,
/// including those `Connection` names; X-Forwarded-For/Proto added; everything else in order.
final class ProxyHeadersTests: XCTestCase {
    let client = IPAddress("127.0.0.9")

    func head(_ headers: [(String, String)], method: HTTPMethod = .GET, version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: "/api/x?y=1", headers: HTTPHeaders(headers))
    }

    func names(_ headers: HTTPHeaders) -> [String] { headers.map { $0.name.lowercased() } }

    func testHopByHopFieldsAreRemoved() {
        let out = ProxyHeaders.request(head([
            ("Host", "example.test"), ("Connection", "keep-alive, Upgrade"), ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"), ("TE", "trailers"), ("Trailer", "X-Sum"), ("Upgrade", "websocket"),
            ("Accept", "*/*"),
        ]), client: client)
        XCTAssertEqual(names(out.headers), ["host", "accept", "x-forwarded-for", "x-forwarded-proto"])
    }

    func testFieldsNamedByConnectionAreRemoved() {
        let out = ProxyHeaders.request(head([
            ("Host", "h"), ("Connection", "close, X-Secret"), ("connection", " x-other-hop "), ("X-Secret", "1"),
            ("X-Other-Hop", "2"), ("X-Kept", "3"),
        ]), client: nil)
        XCTAssertEqual(names(out.headers), ["host", "x-kept", "x-forwarded-proto"])
        XCTAssertEqual(out.headers["x-kept"], ["3"])
    }

    func testHeaderMatchingIsCaseInsensitive() {
        XCTAssertTrue(ProxyHeaders.isHopByHop("TRANSFER-ENCODING"))
        XCTAssertTrue(ProxyHeaders.isHopByHop("keep-Alive"))
        XCTAssertTrue(ProxyHeaders.isHopByHop("te"))
        XCTAssertFalse(ProxyHeaders.isHopByHop("tf"))
        XCTAssertFalse(ProxyHeaders.isHopByHop("content-length"))
        XCTAssertFalse(ProxyHeaders.isHopByHop("connectiox"))
        XCTAssertTrue(ProxyHeaders.equalsIgnoringCase("CONNECTION"[...], "connection"))
        // Folding with 0x20 only applies to letters: CR | 0x20 is "-".
        XCTAssertFalse(ProxyHeaders.equalsIgnoringCase("keep\ralive"[...], "keep-alive"))
    }

    func testXForwardedForIsAppended() {
        let fresh = ProxyHeaders.request(head([("Host", "h")]), client: client)
        XCTAssertEqual(fresh.headers["X-Forwarded-For"], ["127.0.0.9"])
        let chained = ProxyHeaders.request(head([("Host", "h"), ("X-Forwarded-For", "203.0.113.7")]), client: client)
        XCTAssertEqual(chained.headers["X-Forwarded-For"], ["203.0.113.7, 127.0.0.9"])
        let twoLines = ProxyHeaders.request(
            head([("X-Forwarded-For", "1.1.1.1"), ("Host", "h"), ("x-forwarded-for", "2.2.2.2, 3.3.3.3")]), client: client)
        XCTAssertEqual(twoLines.headers["X-Forwarded-For"], ["1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.9"], "one field, in order")
        let v6 = ProxyHeaders.request(head([("Host", "h")]), client: IPAddress("2001:db8::1"))
        XCTAssertEqual(v6.headers["X-Forwarded-For"], ["2001:db8::1"])
    }

    func testXForwardedProtoIsAddedUnlessPresent() {
        XCTAssertEqual(ProxyHeaders.request(head([("Host", "h")]), client: client).headers["X-Forwarded-Proto"], ["http"])
        let kept = ProxyHeaders.request(head([("Host", "h"), ("X-Forwarded-Proto", "https")]), client: client)
        XCTAssertEqual(kept.headers["X-Forwarded-Proto"], ["https"])
    }

    func testHostTargetAndMethodAreKept() {
        let out = ProxyHeaders.request(head([("Host", "Example.TEST:8002"), ("User-Agent", "t")], method: .DELETE), client: client)
        XCTAssertEqual(out.headers["Host"], ["Example.TEST:8002"])
        XCTAssertEqual(out.uri, "/api/x?y=1", "the target is not rewritten (compat 4.5)")
        XCTAssertEqual(out.method, .DELETE)
        XCTAssertEqual(out.version, .http1_1, "upstreams are spoken to in HTTP/1.1")
        XCTAssertEqual(ProxyHeaders.request(head([("Host", "h")], version: .http1_0), client: client).version, .http1_1)
    }

    func testOtherHeadersKeepTheirOrderAndDuplicates() {
        let out = ProxyHeaders.request(head([
            ("Host", "h"), ("Accept-Encoding", "gzip, deflate"), ("Cookie", "a=1"), ("Cookie", "b=2"), ("X-Z", "z"),
        ]), client: nil)
        XCTAssertEqual(out.headers.map { "\($0.name): \($0.value)" },
                       ["Host: h", "Accept-Encoding: gzip, deflate", "Cookie: a=1", "Cookie: b=2", "X-Z: z", "X-Forwarded-Proto: http"])
    }

    func testRequestBodyFraming() {
        let sized = ProxyHeaders.request(head([("Host", "h"), ("Content-Length", "42")], method: .POST), client: nil)
        XCTAssertEqual(sized.headers["Content-Length"], ["42"])
        XCTAssertEqual(sized.headers["Transfer-Encoding"], [])
        let chunked = ProxyHeaders.request(head([("Host", "h"), ("Transfer-Encoding", "chunked")], method: .POST), client: nil)
        XCTAssertEqual(chunked.headers["Transfer-Encoding"], ["chunked"], "re-framed for this hop")
        XCTAssertEqual(chunked.headers["Content-Length"], [])
        let none = ProxyHeaders.request(head([("Host", "h")]), client: nil)
        XCTAssertEqual(none.headers["Transfer-Encoding"] + none.headers["Content-Length"], [])
    }

    func testResponseHeadersDropOnlyHopByHop() {
        let out = ProxyHeaders.response(HTTPHeaders([
            ("Server", "SimpleHTTP/0.6 Python/3.11"), ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"), ("Connection", "close, X-Hop"),
            ("X-Hop", "1"), ("Transfer-Encoding", "chunked"), ("Keep-Alive", "timeout=5"), ("Content-type", "text/html"),
            ("Last-Modified", "Sun, 31 Dec 2023 00:00:00 GMT"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
        ]))
        XCTAssertEqual(out.map { "\($0.name): \($0.value)" }, [
            "Server: SimpleHTTP/0.6 Python/3.11", "Date: Mon, 01 Jan 2024 00:00:00 GMT", "Content-type: text/html",
            "Last-Modified: Sun, 31 Dec 2023 00:00:00 GMT", "Set-Cookie: a=1", "Set-Cookie: b=2",
        ], "Server and Date are relayed unchanged (compat 4.5)")
    }
}
