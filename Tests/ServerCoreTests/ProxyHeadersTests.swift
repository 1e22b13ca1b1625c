import NIOCore
import NIOHTTP1
import XCTest

@testable import ServerCore

/// The upstream request head (RFC 9110 §7.6.1): hop-by-hop fields dropped, including those
/// `Connection` names; X-Forwarded-For/Proto added; everything else in order. (The response side
/// is `UpstreamResponseParserTests`.)
final class ProxyHeadersTests: XCTestCase {
    let client = IPAddress("127.0.0.9")

    func head(_ headers: [(String, String)], method: HTTPMethod = .GET, version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: "/api/x?y=1", headers: HTTPHeaders(headers))
    }

    func names(_ headers: HTTPHeaders) -> [String] { headers.map { $0.name.lowercased() } }

    /// The encoded upstream request, read back.
    struct Sent {
        var method: String
        var uri: String
        var version: String
        var headers: HTTPHeaders
        var chunked: Bool
    }

    func request(_ h: HTTPRequestHead, client: IPAddress?) -> Sent {
        var bytes = ByteBuffer()
        let chunked = ProxyHeaders.encodeRequest(h, client: client?.description, into: &bytes)
        let text = String(buffer: bytes)
        XCTAssertTrue(text.hasSuffix("\r\n\r\n"), "one blank line ends the head")
        var lines = text.dropLast(2).components(separatedBy: "\r\n")  // "\r\n" is one Character
        let first = lines.removeFirst().split(separator: " ").map(String.init)
        XCTAssertEqual(first.count, 3)
        let headers = lines.map { line -> (String, String) in
            let colon = line.firstIndex(of: ":")!
            XCTAssertEqual(line[line.index(after: colon)...].first, " ")
            return (String(line[..<colon]), String(line[line.index(colon, offsetBy: 2)...]))
        }
        return Sent(method: first[0], uri: first[1], version: first[2], headers: HTTPHeaders(headers), chunked: chunked)
    }

    func testHopByHopFieldsAreRemoved() {
        let out = request(head([
            ("Host", "example.test"), ("Connection", "keep-alive, Upgrade"), ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"), ("TE", "trailers"), ("Trailer", "X-Sum"), ("Upgrade", "websocket"),
            ("Accept", "*/*"),
        ]), client: client)
        XCTAssertEqual(names(out.headers), ["host", "accept", "x-forwarded-for", "x-forwarded-proto"])
    }

    func testFieldsNamedByConnectionAreRemoved() {
        let out = request(head([
            ("Host", "h"), ("X-Early", "0"), ("Connection", "close, X-Secret, x-early"), ("connection", " x-other-hop "), ("X-Secret", "1"),
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
        XCTAssertTrue(HeaderName.equals("CONNECTION"[...], "connection"))
        // Folding with 0x20 only applies to letters: CR | 0x20 is "-".
        XCTAssertFalse(HeaderName.equals("keep\ralive"[...], "keep-alive"))
    }

    /// Every form of the comparison folds letters and nothing else (`@`/`` ` ``, `[`/`{`, CR/`-`
    /// differ only by 0x20 too).
    func testEveryFormFoldsOnlyLetters() {
        let pairs: [(String, String, Bool)] = [
            ("Content-Length", "content-length", true), ("X-A", "x-a", true), ("a@b", "a`b", false), ("[", "{", false),
            ("keep\ralive", "keep-alive", false), ("abc", "abd", false), ("ab", "abc", false),
        ]
        for (a, b, same) in pairs {
            XCTAssertEqual(HeaderName.equals(a[...], b), same, "\(a) / \(b)")
            XCTAssertEqual(Array(a.utf8).withUnsafeBytes { HeaderName.equals($0, Array(b.utf8)) }, same, "\(a) / \(b) bytes")
        }
        let lower: [(String, StaticString, Bool)] = [
            ("CONNECTION", "connection", true), ("Keep-Alive", "keep-alive", true), ("keep\ralive", "keep-alive", false),
            ("a@b", "a`b", false), ("conection", "connection", false),
        ]
        for (a, b, same) in lower {
            XCTAssertEqual(HeaderName.equals(a, b), same, a)
            XCTAssertEqual(Array(a.utf8).withUnsafeBytes { HeaderName.equals($0, b) }, same, "\(a) bytes")
        }
    }

    func testXForwardedForIsAppended() {
        let fresh = request(head([("Host", "h")]), client: client)
        XCTAssertEqual(fresh.headers["X-Forwarded-For"], ["127.0.0.9"])
        let chained = request(head([("Host", "h"), ("X-Forwarded-For", "203.0.113.7")]), client: client)
        XCTAssertEqual(chained.headers["X-Forwarded-For"], ["203.0.113.7, 127.0.0.9"])
        let twoLines = request(
            head([("X-Forwarded-For", "1.1.1.1"), ("Host", "h"), ("x-forwarded-for", "2.2.2.2, 3.3.3.3")]), client: client)
        XCTAssertEqual(twoLines.headers["X-Forwarded-For"], ["1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.9"], "one field, in order")
        let v6 = request(head([("Host", "h")]), client: IPAddress("2001:db8::1"))
        XCTAssertEqual(v6.headers["X-Forwarded-For"], ["2001:db8::1"])
    }

    func testXForwardedProtoIsAddedUnlessPresent() {
        XCTAssertEqual(request(head([("Host", "h")]), client: client).headers["X-Forwarded-Proto"], ["http"])
        let kept = request(head([("Host", "h"), ("X-Forwarded-Proto", "https")]), client: client)
        XCTAssertEqual(kept.headers["X-Forwarded-Proto"], ["https"])
    }

    func testHostTargetAndMethodAreKept() {
        let out = request(head([("Host", "Example.TEST:8002"), ("User-Agent", "t")], method: .DELETE), client: client)
        XCTAssertEqual(out.headers["Host"], ["Example.TEST:8002"])
        XCTAssertEqual(out.uri, "/api/x?y=1", "the target is not rewritten (compat 4.5)")
        XCTAssertEqual(out.method, "DELETE")
        XCTAssertEqual(out.version, "HTTP/1.1", "upstreams are spoken to in HTTP/1.1")
        XCTAssertEqual(request(head([("Host", "h")], version: .http1_0), client: client).version, "HTTP/1.1")
    }

    func testOtherHeadersKeepTheirOrderAndDuplicates() {
        let out = request(head([
            ("Host", "h"), ("Accept-Encoding", "gzip, deflate"), ("Cookie", "a=1"), ("Cookie", "b=2"), ("X-Z", "z"),
        ]), client: nil)
        XCTAssertEqual(out.headers.map { "\($0.name): \($0.value)" },
                       ["Host: h", "Accept-Encoding: gzip, deflate", "Cookie: a=1", "Cookie: b=2", "X-Z: z", "X-Forwarded-Proto: http"])
    }

    func testRequestBodyFraming() {
        let sized = request(head([("Host", "h"), ("Content-Length", "42")], method: .POST), client: nil)
        XCTAssertEqual(sized.headers["Content-Length"], ["42"])
        XCTAssertEqual(sized.headers["Transfer-Encoding"], [])
        XCTAssertFalse(sized.chunked)
        let chunked = request(head([("Host", "h"), ("Transfer-Encoding", "chunked")], method: .POST), client: nil)
        XCTAssertEqual(chunked.headers["Transfer-Encoding"], ["chunked"], "re-framed for this hop")
        XCTAssertEqual(chunked.headers["Content-Length"], [])
        XCTAssertTrue(chunked.chunked, "the body goes chunk-framed")
        let none = request(head([("Host", "h")]), client: nil)
        XCTAssertEqual(none.headers["Transfer-Encoding"] + none.headers["Content-Length"], [])
    }
}
