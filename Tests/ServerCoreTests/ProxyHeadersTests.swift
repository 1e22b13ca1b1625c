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

    /// The head as a client sends it.
    func wire(_ h: HTTPRequestHead) -> String {
        "\(h.method.rawValue) \(h.uri) HTTP/\(h.version.major).\(h.version.minor)\r\n"
            + h.headers.map { "\($0.name): \($0.value)\r\n" }.joined() + "\r\n"
    }

    /// `text` encoded for the upstream, as it is sent.
    func encoded(_ text: String, client: IPAddress?, trusted: Bool = false, host: String? = nil, upgrade: Bool = false) -> (text: String, chunked: Bool) {
        var bytes = ByteBuffer()
        let chunked = Array(text.utf8).withUnsafeBytes {
            ProxyHeaders.encodeRequest($0, peer: client?.description, trustedPeer: trusted, host: host, upgrade: upgrade, into: &bytes)
        }
        return (String(buffer: bytes), chunked)
    }

    func request(_ h: HTTPRequestHead, client: IPAddress?, trusted: Bool = false) -> Sent {
        let (text, chunked) = encoded(wire(h), client: client, trusted: trusted)
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

    /// `Host` is never dropped, whatever `Connection` names (an HTTP/1.1 request needs one).
    func testConnectionCannotDropHost() {
        let out = request(head([("Connection", "HOST, x-a"), ("Host", "h.test"), ("X-A", "1"), ("X-B", "2")]), client: nil)
        XCTAssertEqual(names(out.headers), ["host", "x-b", "x-forwarded-proto"])
        XCTAssertEqual(out.headers["host"], ["h.test"])
    }

    func kind(_ name: String) -> HeaderName.Kind { Array(name.utf8).withUnsafeBytes { HeaderName.kind($0) } }

    /// The names the proxy acts on, in any case; nothing else (a near miss, a folded CR) matches.
    func testHeaderKindsAreCaseInsensitive() {
        let kinds: [(String, HeaderName.Kind)] = [
            ("TRANSFER-ENCODING", .transferEncoding), ("keep-Alive", .hopByHop), ("te", .hopByHop), ("TE", .hopByHop),
            ("Trailer", .hopByHop), ("UPGRADE", .hopByHop), ("Proxy-Connection", .hopByHop), ("connection", .connection),
            ("Content-length", .contentLength), ("x-forwarded-FOR", .forwardedFor), ("X-Forwarded-Proto", .forwardedProto),
            ("tf", .endToEnd), ("connectiox", .endToEnd), ("keep\ralive", .endToEnd), ("Host", .endToEnd), ("", .endToEnd),
            ("x-forwarded-fo", .endToEnd), ("content-lengths", .endToEnd),
        ]
        for (name, expected) in kinds {
            XCTAssertEqual(kind(name), expected, name.debugDescription)
        }
    }

    /// Every form of the comparison folds letters and nothing else (`@`/`` ` ``, `[`/`{`, CR/`-`
    /// differ only by 0x20 too).
    func testEveryFormFoldsOnlyLetters() {
        let pairs: [(String, String, Bool)] = [
            ("Content-Length", "content-length", true), ("X-A", "x-a", true), ("a@b", "a`b", false), ("[", "{", false),
            ("keep\ralive", "keep-alive", false), ("abc", "abd", false), ("ab", "abc", false),
        ]
        for (a, b, same) in pairs {
            XCTAssertEqual(Array(a.utf8).withUnsafeBytes { HeaderName.equals($0, Array(b.utf8)) }, same, "\(a) / \(b) bytes")
            XCTAssertEqual(
                Array(a.utf8).withUnsafeBytes { x in Array(b.utf8).withUnsafeBytes { HeaderName.equals(x, $0) } }, same,
                "\(a) / \(b) raw")
        }
        let lower: [(String, StaticString, Bool)] = [
            ("CONNECTION", "connection", true), ("Keep-Alive", "keep-alive", true), ("keep\ralive", "keep-alive", false),
            ("a@b", "a`b", false), ("conection", "connection", false),
        ]
        for (a, b, same) in lower {
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

    /// A client cannot claim https (upstreams decide secure cookies and redirects on it): only a
    /// trusted proxy's value goes on.
    func testXForwardedProtoIsOursUnlessATrustedProxySentOne() {
        XCTAssertEqual(request(head([("Host", "h")]), client: client).headers["X-Forwarded-Proto"], ["http"])
        let forged = request(head([("Host", "h"), ("X-Forwarded-Proto", "https"), ("x-forwarded-proto", "https")]), client: client)
        XCTAssertEqual(forged.headers["X-Forwarded-Proto"], ["http"])
        XCTAssertEqual(names(forged.headers), ["host", "x-forwarded-for", "x-forwarded-proto"])
        let kept = request(head([("Host", "h"), ("X-Forwarded-Proto", "https")]), client: client, trusted: true)
        XCTAssertEqual(kept.headers["X-Forwarded-Proto"], ["https"])
        XCTAssertEqual(request(head([("Host", "h")]), client: client, trusted: true).headers["X-Forwarded-Proto"], ["http"])
    }

    func testHostTargetAndMethodAreKept() {
        let out = request(head([("Host", "Example.TEST:8002"), ("User-Agent", "t")], method: .DELETE), client: client)
        XCTAssertEqual(out.headers["Host"], ["Example.TEST:8002"])
        XCTAssertEqual(out.uri, "/api/x?y=1", "the target is not rewritten (compat 4.5)")
        XCTAssertEqual(out.method, "DELETE")
        XCTAssertEqual(out.version, "HTTP/1.1", "upstreams are spoken to in HTTP/1.1")
        XCTAssertEqual(request(head([("Host", "h")], version: .http1_0), client: client).version, "HTTP/1.1")
    }

    /// An HTTP/1.0 request may come without `Host`, an HTTP/1.1 one, as it goes upstream, may not
    /// (RFC 9112 §3.2): the value given is added first after the request line (and stays when
    /// `Connection` names fields to drop); a `Host` the client sent is not touched.
    func testHostIsAddedWhenTheClientSentNone() {
        let out = encoded("GET /a HTTP/1.0\r\nAccept: */*\r\nConnection: x-a\r\nX-A: 1\r\n\r\n", client: nil, host: "127.0.0.1:8080")
        XCTAssertEqual(out.text, "GET /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\nX-Forwarded-Proto: http\r\n\r\n")
        let kept = encoded("GET /a HTTP/1.0\r\nHost: h\r\n\r\n", client: nil, host: nil)
        XCTAssertEqual(kept.text, "GET /a HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: http\r\n\r\n")
    }

    /// The added `Host` is the address the client connected to, an IPv6 one in brackets.
    func testAddedHostIsTheLocalAddress() throws {
        XCTAssertEqual(ProxyHeaders.hostValue(local: try SocketAddress(ipAddress: "127.0.0.1", port: 8080)), "127.0.0.1:8080")
        XCTAssertEqual(ProxyHeaders.hostValue(local: try SocketAddress(ipAddress: "::1", port: 8002)), "[::1]:8002")
        XCTAssertEqual(ProxyHeaders.hostValue(local: try SocketAddress(ipAddress: "::ffff:10.0.0.1", port: 80)), "[::ffff:10.0.0.1]:80")
        XCTAssertEqual(ProxyHeaders.hostValue(local: try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")), "", "no IP: empty")
        XCTAssertEqual(ProxyHeaders.hostValue(local: nil), "")
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

    /// The head is taken from the client's bytes: any spacing the parser accepts (several spaces
    /// in the request line, none or tabs around a value, bare LF line ends) comes out as
    /// `name: value` lines ending in CRLF, names as sent.
    func testClientBytesComeOutInOneForm() {
        let out = encoded("GET   /a?b=1  HTTP/1.0\nHost:h\nX-A: \t spaced \t\r\nx-b:\r\nKeep-Alive: 1\n\n", client: nil)
        XCTAssertEqual(out.text, "GET /a?b=1 HTTP/1.1\r\nHost: h\r\nX-A: spaced\r\nx-b: \r\nX-Forwarded-Proto: http\r\n\r\n")
        XCTAssertFalse(out.chunked)
    }

    /// The size bound holds for the heads that grow the most (many empty fields with bare LF
    /// ends, a long forwarded-for chain, a length): RawWriter traps if it does not.
    func testWorstCaseGrowthFits() {
        let empty = "GET / HTTP/1.1\n" + String(repeating: "a:\n", count: 500) + "X-Forwarded-For:1\nContent-Length:1\n\n"
        let out = encoded(empty, client: IPAddress("2001:db8::1"))
        XCTAssertTrue(out.text.hasPrefix("GET / HTTP/1.1\r\na: \r\n"))
        let host = "[" + String(repeating: "f", count: 300) + "]:1"
        XCTAssertTrue(encoded(empty, client: IPAddress("2001:db8::1"), host: host).text.hasPrefix("GET / HTTP/1.1\r\nHost: \(host)\r\na: \r\n"))
        XCTAssertTrue(out.text.hasSuffix("X-Forwarded-For: 1, 2001:db8::1\r\nX-Forwarded-Proto: http\r\nContent-Length: 1\r\n\r\n"))
        let chained = "GET / HTTP/1.1\n" + String(repeating: "X-Forwarded-For:\n", count: 300) + "Transfer-Encoding:chunked\n\n"
        XCTAssertTrue(encoded(chained, client: IPAddress("127.0.0.1")).chunked)
        // Not a head the parser passes, but the encoder stays inside what it is given.
        for broken in ["", "GET", "GET /x", "GET /x HTTP/1.1"] {
            XCTAssertTrue(encoded(broken, client: nil).text.hasSuffix("\r\n\r\n"), broken)
        }
    }

    /// Field values are relayed byte for byte: obs-text (bytes 0x80-0xFF, RFC 9110 §5.5), which
    /// is not UTF-8, is not turned into replacement characters.
    func testObsTextPassesUnchanged() {
        let value: [UInt8] = [0x63, 0x61, 0x66, 0xE9, 0x20, 0xFF, 0x80]  // "caf\xE9 \xFF\x80"
        let head = Array("GET / HTTP/1.1\r\nHost: h\r\nX-Name: ".utf8) + value + Array("\r\n\r\n".utf8)
        var bytes = ByteBuffer()
        _ = head.withUnsafeBytes { ProxyHeaders.encodeRequest($0, peer: nil, host: nil, into: &bytes) }
        let sent = Array(bytes.readableBytesView)
        let expected = Array("GET / HTTP/1.1\r\nHost: h\r\nX-Name: ".utf8) + value
            + Array("\r\nX-Forwarded-Proto: http\r\n\r\n".utf8)
        XCTAssertEqual(sent, expected)
    }

    /// An offer to switch protocols goes upstream: its `Upgrade` lines as sent, and `Connection:
    /// upgrade` in place of the client's `Connection` (whose other tokens stay hop-by-hop).
    func testAnOfferToSwitchProtocolsIsRelayed() {
        let text = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade, X-Hop\r\nUpgrade: websocket\r\n"
            + "X-Hop: 1\r\nSec-WebSocket-Key: k\r\nKeep-Alive: 5\r\n\r\n"
        XCTAssertEqual(encoded(text, client: client, upgrade: true).text,
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n"
            + "X-Forwarded-For: 127.0.0.9\r\nX-Forwarded-Proto: http\r\nConnection: upgrade\r\n\r\n")
        XCTAssertEqual(encoded(text, client: client).text,
            "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\n"
            + "X-Forwarded-For: 127.0.0.9\r\nX-Forwarded-Proto: http\r\n\r\n", "not offered: dropped as before")
    }
}
