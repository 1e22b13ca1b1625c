import NIOCore
import NIOHTTP1
import XCTest

@testable import ServerCore

/// The client side's decoder: request heads parsed from bytes, bodies by their framing, every
/// split of the input giving the same parts, and each malformed or oversized head refused with
/// the status it gets (400, 414, 431) and nothing decoded after it.
final class RequestDecoderTests: XCTestCase {
    typealias Failure = RequestHeadParser.Failure

    let limits = RequestHeadParser.Limits(maxLine: 8192, maxHeaderBytes: 32768)

    /// What decoding `input` fed in pieces of `step` bytes (0: all at once) produced.
    struct Decoded {
        var heads: [HTTPRequestHead] = []
        var bodies: [String] = []
        var ends = 0
        var failure: Failure?
        /// The order of parts: "h", "b", "e".
        var sequence = ""
    }

    func decode(_ input: String, step: Int = 0, limits: RequestHeadParser.Limits? = nil) -> Decoded {
        decode(bytes: Array(input.utf8), step: step, limits: limits)
    }

    func decode(bytes: [UInt8], step: Int = 0, limits: RequestHeadParser.Limits? = nil) -> Decoded {
        var decoder = RequestDecoder(limits: limits ?? self.limits)
        var result = Decoded()
        var body = ""
        let size = step == 0 ? max(bytes.count, 1) : step
        var offset = 0
        while offset < bytes.count && result.failure == nil {
            var buffer = ByteBuffer(bytes: bytes[offset..<min(offset + size, bytes.count)])
            offset += size
            do {
                try decoder.decode(&buffer) { part in
                    switch part {
                    case .head(let parsed):
                        result.heads.append(parsed.head)
                        if !result.sequence.hasSuffix("h") { result.sequence += "h" }
                    case .body(let b):
                        body += String(buffer: b)
                        if !result.sequence.hasSuffix("b") { result.sequence += "b" }
                    case .end:
                        result.ends += 1
                        result.bodies.append(body)
                        body = ""
                        result.sequence += "e"
                    }
                }
            } catch {
                result.failure = error
            }
        }
        return result
    }

    /// Feeds `input` to `decoder`: the parts it gave ("head", body text, "end").
    func feed(_ decoder: inout RequestDecoder, _ input: String) throws -> [String] {
        var parts: [String] = []
        var buffer = ByteBuffer(string: input)
        try decoder.decode(&buffer) { part in
            switch part {
            case .head: parts.append("head")
            case .body(let b): parts.append(String(buffer: b))
            case .end: parts.append("end")
            }
        }
        return parts
    }

    /// Decodes `input` whole and at every split size up to `maxStep`, and checks each gives the
    /// same parts as the whole.
    func decodeEverySplit(_ input: String, maxStep: Int = 40, file: StaticString = #filePath, line: UInt = #line) throws -> Decoded {
        let whole = decode(input)
        for step in 1...maxStep {
            let split = decode(input, step: step)
            XCTAssertEqual(split.heads.map(describe), whole.heads.map(describe), "step \(step)", file: file, line: line)
            XCTAssertEqual(split.bodies, whole.bodies, "step \(step)", file: file, line: line)
            XCTAssertEqual(split.ends, whole.ends, "step \(step)", file: file, line: line)
            XCTAssertEqual(split.failure, whole.failure, "step \(step)", file: file, line: line)
        }
        return whole
    }

    func describe(_ h: HTTPRequestHead) -> String {
        "\(h.method.rawValue) \(h.uri) \(h.version) " + h.headers.map { "\($0.name)=\($0.value)" }.joined(separator: "|")
    }

    func assertRefused(_ input: String, _ failure: Failure, file: StaticString = #filePath, line: UInt = #line) throws {
        for step in [0, 1, 7] {
            let d = decode(input, step: step)
            XCTAssertEqual(d.failure, failure, "\(input.debugDescription.prefix(80)) step \(step)", file: file, line: line)
            XCTAssertTrue(d.heads.isEmpty, "no head after a refusal", file: file, line: line)
        }
    }

    // MARK: heads

    func testSimpleGetAtEverySplit() throws {
        let d = try decodeEverySplit("GET /small.html?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept:  */* \r\nX-Empty:\r\n\r\n")
        XCTAssertEqual(d.heads.count, 1)
        let h = try XCTUnwrap(d.heads.first)
        XCTAssertEqual(h.method, .GET)
        XCTAssertEqual(h.uri, "/small.html?a=1")
        XCTAssertEqual(h.version, .http1_1)
        XCTAssertEqual(h.headers.map { $0.name }, ["Host", "Accept", "X-Empty"])
        XCTAssertEqual(h.headers.map { $0.value }, ["127.0.0.1:8080", "*/*", ""])
        XCTAssertEqual(d.sequence, "he")
    }

    func testMethodsVersionsAndLineEnds() throws {
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "get", "GOT"] {
            let d = decode("\(method) / HTTP/1.0\nHost: x\n\n")  // bare LFs
            XCTAssertEqual(d.heads.first?.method, HTTPMethod(rawValue: method), method)
            XCTAssertEqual(d.heads.first?.version, .http1_0)
        }
        // Grammar only: HTTP/2.0 parses (the validator refuses it).
        XCTAssertEqual(decode("GET / HTTP/2.0\r\nHost: x\r\n\r\n").heads.first?.version, HTTPVersion(major: 2, minor: 0))
        // Extra spaces between the parts of the request line.
        XCTAssertEqual(decode("GET   /a   HTTP/1.1\r\nHost: x\r\n\r\n").heads.first?.uri, "/a")
        // UTF-8 in the target passes.
        XCTAssertEqual(decode("GET /caf\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n").heads.first?.uri, "/caf\u{e9}")
    }

    func testEmptyLinesBeforeARequestAreSkipped() throws {
        let d = try decodeEverySplit("\r\n\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(d.heads.map(\.uri), ["/", "/b"])
        XCTAssertEqual(d.ends, 2)
    }

    func testPipelinedRequestsWithBodies() throws {
        let input = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
            + "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            + "GET /d HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        let d = try decodeEverySplit(input, maxStep: 60)
        XCTAssertEqual(d.heads.map(\.uri), ["/a", "/b", "/c", "/d"])
        XCTAssertEqual(d.bodies, ["hello", "", "abc", ""])
        XCTAssertEqual(d.sequence, "hbehehbehe")
        XCTAssertNil(d.failure)
    }

    func testChunkedBodyWithExtensionsAndTrailers() throws {
        let input = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\nA \t; a ; b=\"c d\"\r\n, world!!!\r\n0 \r\nX-Trailer: 1\r\nX-Other:\t2 3\r\n\r\n"
            + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        let d = try decodeEverySplit(input, maxStep: 60)
        XCTAssertEqual(d.bodies, ["hello, world!!!", ""])
        XCTAssertEqual(d.heads.map(\.uri), ["/up", "/next"])
    }

    func testHeadWhoseBodyArrivesLater() throws {
        var decoder = RequestDecoder(limits: limits)
        XCTAssertEqual(try feed(&decoder, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"), ["head"], "no end before the body")
        XCTAssertEqual(try feed(&decoder, "ab"), ["ab"])
        XCTAssertEqual(try feed(&decoder, "cdGET"), ["cd", "end"])
        XCTAssertEqual(try feed(&decoder, " / HTTP/1.1\r\nHost: x\r\n\r\n"), ["head", "end"])
    }

    // MARK: malformed

    func testMalformedRequestLinesAre400() throws {
        for input in [
            "GET /index.html\r\nHost: x\r\n\r\n",  // no version
            "GET /index.html HTTX/2.0\r\nHost: x\r\n\r\n",
            "GET /index.html HTTP/1.1 \r\nHost: x\r\n\r\n",
            "GET /index.html HTTP/1\r\nHost: x\r\n\r\n",
            "GET /index.html http/1.1\r\nHost: x\r\n\r\n",
            "GET\r\nHost: x\r\n\r\n",
            "GET  HTTP/1.1\r\nHost: x\r\n\r\n",
            " GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a\u{7}b HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            try assertRefused(input, .badRequest)
        }
    }

    func testMalformedHeaderLinesAre400() throws {
        for field in [
            "Host localhost:8001",  // no colon (the tester's case)
            "Host : x",
            ": x",
            "Bad Name: x",
            "X-A: 1\r\n folded",
            "X-A: a\rb",
            "X-A: a\u{0}b",
        ] {
            try assertRefused("GET / HTTP/1.1\r\nHost: x\r\n\(field)\r\n\r\n", .badRequest)
        }
    }

    func testAmbiguousFramingIs400() throws {
        for fields in [
            "Content-Length: 5\r\nTransfer-Encoding: chunked",
            "Transfer-Encoding: chunked\r\nContent-Length: 5",
            "Content-Length: 5\r\nContent-Length: 5",
            "Content-Length: 5, 5",
            "Content-Length: -1",
            "Content-Length: 0x10",
            "Content-Length: 99999999999999999999",
            "Content-Length:",
            "Transfer-Encoding: gzip",
            "Transfer-Encoding: chunked, gzip",
            "Transfer-Encoding:",
            "Transfer-Encoding: chunked, chunked",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip",
        ] {
            try assertRefused("POST / HTTP/1.1\r\nHost: x\r\n\(fields)\r\n\r\nhello", .badRequest)
        }
    }

    /// The `Transfer-Encoding` fields are one list (RFC 9110 §5.3): `chunked` after any other
    /// coding, in the same field or an earlier one, is a coding we do not implement (501, as
    /// nginx answers), never `chunked` with the rest ignored.
    func testOtherTransferCodingsAre501() throws {
        for fields in [
            "Transfer-Encoding: gzip, chunked",
            "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked",
            "Transfer-Encoding: deflate\r\nX-A: 1\r\ntransfer-encoding: CHUNKED",
        ] {
            try assertRefused("POST / HTTP/1.1\r\nHost: x\r\n\(fields)\r\n\r\n5\r\nhello\r\n0\r\n\r\n", .notImplemented)
        }
        XCTAssertEqual(Failure.notImplemented.status.code, 501)
        // `chunked` alone, in any case, split over empty list members or not, frames the body.
        for value in ["chunked", "CHUNKED", " , chunked ,", "chunked\r\nTransfer-Encoding: "] {
            let d = decode("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \(value)\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            XCTAssertNil(d.failure, value.debugDescription)
            XCTAssertEqual(d.bodies, ["hello"], value.debugDescription)
        }
    }

    /// HTTP/1.0 has no transfer codings: one in a 1.0 request is faulty framing (RFC 9112 §6.1),
    /// refused (400, as nginx answers) rather than its body read as chunks.
    func testTransferEncodingOnHTTP10Is400() throws {
        try assertRefused("POST /a.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", .badRequest)
        try assertRefused("POST /a.txt HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .badRequest)
    }

    func testBadChunksAre400() throws {
        for body in [
            "zz\r\nab\r\n0\r\n\r\n", "2\r\nabc\r\n0\r\n\r\n", "\r\n", ";x\r\n", "1234567890abcdef0\r\n",
            // After the digits only whitespace, then the end or `;` and extensions without control bytes.
            "3 zz\r\nabc\r\n0\r\n\r\n", "3x\r\nabc\r\n", "3;a=\rb\r\nabc\r\n", "3;a=\u{0}\r\nabc\r\n", "3 ;a\u{7F}\r\nabc\r\n",
            // Trailers are field lines.
            "3\r\nabc\r\n0\r\nnot a field\r\n\r\n", "3\r\nabc\r\n0\r\n: x\r\n\r\n", "3\r\nabc\r\n0\r\nX: a\rb\r\n\r\n",
            "3\r\nabc\r\n0\r\n folded\r\n\r\n",
        ] {
            let d = decode("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(body)")
            XCTAssertEqual(d.heads.count, 1)
            XCTAssertEqual(d.failure, .badRequest, body.debugDescription)
            XCTAssertEqual(d.ends, 0)
        }
    }

    func testNothingIsDecodedAfterARefusal() throws {
        var decoder = RequestDecoder(limits: limits)
        XCTAssertThrowsError(try feed(&decoder, "GET / HTTX/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertTrue(decoder.failed)
        XCTAssertEqual(try feed(&decoder, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), [])
    }

    func testPartsBeforeARefusalAreDelivered() throws {
        var decoder = RequestDecoder(limits: limits)
        var parts: [String] = []
        var buffer = ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTX/1.1\r\nHost: x\r\n\r\n")
        XCTAssertThrowsError(try decoder.decode(&buffer) { part in
            if case .head(let parsed) = part { parts.append(parsed.head.uri) }
        }) { XCTAssertEqual($0 as? Failure, .badRequest) }
        XCTAssertEqual(parts, ["/a"])
    }

    func testMalformedRequestLineIsRefusedBeforeTheHeadEnds() throws {
        var decoder = RequestDecoder(limits: limits)
        XCTAssertThrowsError(try feed(&decoder, "GET /x HTTX/1.1\r\nHost: x\r\n")) {
            XCTAssertEqual($0 as? Failure, .badRequest)
        }
        decoder = RequestDecoder(limits: limits)
        XCTAssertEqual(try feed(&decoder, "GET /x HTTP/1.1\r\nHost: x\r\n"), [], "a well-formed start waits")
    }

    // MARK: limits

    func testRequestLineLimit() throws {
        let long = "/" + String(repeating: "a", count: 8192)
        try assertRefused("GET \(long) HTTP/1.1\r\nHost: x\r\n\r\n", .uriTooLong)
        try assertRefused("GET \(long)", .uriTooLong)  // refused before the line ends
        let fits = "/" + String(repeating: "a", count: 8192 - 15)
        XCTAssertEqual(decode("GET \(fits) HTTP/1.1\r\nHost: x\r\n\r\n").heads.first?.uri, fits)
    }

    func testHeaderFieldLimits() throws {
        let field = String(repeating: "v", count: 1000)
        let many = (0..<40).map { "X-Filler-\($0): \(field)\r\n" }.joined()
        try assertRefused("GET / HTTP/1.1\r\nHost: x\r\n\(many)\r\n", .fieldsTooLarge)
        try assertRefused("GET / HTTP/1.1\r\nHost: x\r\n\(many)", .fieldsTooLarge)  // before the end
        let huge = String(repeating: "v", count: 40_000)  // one line over the whole limit (32 KiB)
        try assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(huge)\r\n\r\n", .fieldsTooLarge)
        try assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(huge)", .fieldsTooLarge)
        let counted = (0..<201).map { "X-\($0): 1\r\n" }.joined()
        try assertRefused("GET / HTTP/1.1\r\n\(counted)\r\n", .fieldsTooLarge)
        // Under the limits.
        let fine = (0..<28).map { "X-Filler-\($0): \(field)\r\n" }.joined()
        XCTAssertEqual(decode("GET / HTTP/1.1\r\nHost: x\r\n\(fine)\r\n").heads.first?.headers.count, 29)
        // One field line may take the whole limit, past the request line's 8 KiB (a large Cookie).
        let large = RequestHeadParser.Limits(maxLine: 8192, maxHeaderBytes: 65536)
        let cookie = String(repeating: "c", count: 10_000)
        XCTAssertEqual(decode("GET / HTTP/1.1\r\nHost: x\r\nCookie: \(cookie)\r\n\r\n", limits: large).heads.first?.headers.count, 2)
        XCTAssertEqual(decode("GET / HTTP/1.1\r\nHost: x\r\nCookie: \(cookie)", limits: large).failure, nil, "nor refused while it arrives")
        // A configured limit below the line limit bounds each field line too.
        let small = RequestHeadParser.Limits(maxLine: 8192, maxHeaderBytes: 1024)
        XCTAssertEqual(decode("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(field)x\r\n\r\n", limits: small).failure, nil)
        XCTAssertEqual(decode("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(field)\(field)\r\n\r\n", limits: small).failure, .fieldsTooLarge)
    }

    func testTokenBytesAreRFC9110s() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for b in 0...255 {
            XCTAssertEqual(HeaderName.isTokenByte(UInt8(b)), tchar.contains(UInt8(b)), "byte \(b)")
        }
    }

    /// Mutated requests (bytes replaced, inserted, deleted; seeded, so a failure repeats): the
    /// decoder never traps, and feeding the bytes in pieces gives what feeding them whole gives.
    func testMutatedInputsAgreeAtEverySplit() {
        let seeds = [
            "GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
            "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n",
            "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
        ].map { Array($0.utf8) }
        let alphabet = Array("\r\n :;,0123456789abcdefGET/HTP.\t\u{0}\u{7f}".utf8) + [0xC3, 0xFF]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }
        for round in 0..<600 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<(1 + next(4)) {
                let at = next(bytes.count)
                switch next(3) {
                case 0: bytes[at] = alphabet[next(alphabet.count)]
                case 1: bytes.insert(alphabet[next(alphabet.count)], at: at)
                default: bytes.remove(at: at)
                }
            }
            let whole = decode(bytes: bytes)
            let split = decode(bytes: bytes, step: 1 + next(9))
            let context = String(decoding: bytes, as: UTF8.self).debugDescription
            XCTAssertEqual(split.heads.map(describe), whole.heads.map(describe), context)
            XCTAssertEqual(split.bodies, whole.bodies, context)
            XCTAssertEqual(split.failure, whole.failure, context)
        }
    }

    /// What the head says about its body, as the connection handler uses it (the 413 before the
    /// body, `100 Continue`, the body timeout).
    func testHeadCarriesItsBodysFraming() throws {
        func parsed(_ text: String) throws -> RequestHeadParser.Parsed {
            var decoder = RequestDecoder(limits: limits)
            var found: RequestHeadParser.Parsed?
            var buffer = ByteBuffer(string: text)
            try decoder.decode(&buffer) { part in
                if case .head(let p) = part { found = p }
            }
            return try XCTUnwrap(found)
        }
        let sized = try parsed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nExpect: 100-Continue\r\n\r\n")
        XCTAssertEqual(sized.framing, .length(12))
        XCTAssertEqual(sized.length, 12)
        XCTAssertTrue(sized.expectsContinue)
        let chunked = try parsed("PUT / HTTP/1.1\r\nHost: x\r\nExpect:  100-continue \r\nTransfer-Encoding: chunked\r\n\r\n")
        XCTAssertEqual(chunked.framing, .chunked)
        XCTAssertNil(chunked.length)
        XCTAssertTrue(chunked.expectsContinue)
        let empty = try parsed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertNil(empty.framing)
        XCTAssertFalse(empty.expectsContinue, "no body: nothing to wait for")
        XCTAssertFalse(try parsed("POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n").expectsContinue)
        XCTAssertFalse(try parsed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: something-else\r\n\r\n").expectsContinue)
        XCTAssertNil(try parsed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").framing)
    }

    /// The parser's keep-alive decision is NIO's `isKeepAlive` for the same head, for every mix of
    /// versions and `Connection` values (tokens in lists, case, repeats, several fields).
    func testKeepAliveIsNIOsRule() throws {
        let connections: [[String]] = [
            [], ["close"], ["keep-alive"], ["Keep-Alive"], ["CLOSE"], ["upgrade"], ["te, close"], ["close, te"],
            ["keep-alive, close"], ["keep-alive, keep-alive"], ["close", "close"], ["keep-alive", "te"],
            ["keep-alive", "close"], [" , keep-alive ,"], ["closed"], ["keep-alive-ish"], [""], ["\tclose\t"],
        ]
        for version in ["1.0", "1.1"] {
            for fields in connections {
                let text = "GET / HTTP/\(version)\r\nHost: x\r\n" + fields.map { "Connection: \($0)\r\n" }.joined() + "\r\n"
                var decoder = RequestDecoder(limits: limits)
                var found: RequestHeadParser.Parsed?
                var buffer = ByteBuffer(string: text)
                try decoder.decode(&buffer) { part in
                    if case .head(let p) = part { found = p }
                }
                let parsed = try XCTUnwrap(found, text)
                XCTAssertEqual(parsed.keepAlive, parsed.head.isKeepAlive, text)
            }
        }
    }

    /// The parser notes the first `Host` value and how many `Host` fields there are (the validator
    /// refuses none on HTTP/1.1 and more than one; routing uses the value).
    func testHostFieldsAreNoted() throws {
        func parsed(_ fields: String, version: String = "1.1") throws -> RequestHeadParser.Parsed {
            var decoder = RequestDecoder(limits: limits)
            var found: RequestHeadParser.Parsed?
            var buffer = ByteBuffer(string: "GET / HTTP/\(version)\r\n\(fields)\r\n")
            try decoder.decode(&buffer) { part in
                if case .head(let p) = part { found = p }
            }
            return try XCTUnwrap(found, fields)
        }
        let none = try parsed("Accept: */*\r\n", version: "1.0")
        XCTAssertNil(none.host)
        XCTAssertEqual(none.hostFields, 0)
        let one = try parsed("Accept: */*\r\nhOST:  example.test:8080 \r\n")
        XCTAssertEqual(one.host, "example.test:8080")
        XCTAssertEqual(one.hostFields, 1)
        XCTAssertEqual(try parsed("Host:\r\n").host, "", "empty, not missing")
        let two = try parsed("Host: a\r\nX-Host: c\r\nHost: b\r\n")
        XCTAssertEqual(two.host, "a", "the first one")
        XCTAssertEqual(two.hostFields, 2)
        XCTAssertEqual(two.head.headers["host"], ["a", "b"], "every field is still in the head")
        let empty = try parsed("Host:\r\n")
        XCTAssertEqual(empty.host, "")
        XCTAssertEqual(empty.hostFields, 1)
        // A Host value that is not a host and port is 400 (RFC 9112 §3.2), on any Host line.
        for bad in ["a b", "a/../b", "good.test:80@evil.com", "a\u{1}b", "h:8o", "[::1", "a..b", "x:1:2"] {
            XCTAssertThrowsError(try parsed("Host: \(bad)\r\n"), bad) { XCTAssertEqual($0 as? Failure, .badRequest, bad) }
            XCTAssertThrowsError(try parsed("Host: h\r\nHost: \(bad)\r\n"), bad) { XCTAssertEqual($0 as? Failure, .badRequest, bad) }
        }
        XCTAssertEqual(try parsed("Host: [::1]:8080\r\n").host, "[::1]:8080")
        // A list-valued field read from the bytes: every line of it, one list (RFC 9110 §5.3), as
        // file serving reads it from NIO's head.
        let encodings = try parsed("Host: h\r\nACCEPT-Encoding:  br \r\nX: y\r\naccept-encoding: gzip;q=0.5\r\n")
        XCTAssertEqual(encodings.listValue(of: "accept-encoding"), "br, gzip;q=0.5")
        XCTAssertEqual(encodings.listValue(of: "accept-encoding"), FileRequest(head: encodings.head).acceptEncoding)
        XCTAssertEqual(try parsed("Host: h\r\nAccept-Encoding: gzip, br\r\n").listValue(of: "accept-encoding"), "gzip, br")
        XCTAssertNil(encodings.listValue(of: "accept"))
    }

    func testFailureStatuses() {
        XCTAssertEqual(Failure.badRequest.status.code, 400)
        XCTAssertEqual(Failure.uriTooLong.status.code, 414)
        XCTAssertEqual(Failure.fieldsTooLarge.status.code, 431)
    }

    /// An offer to switch protocols (RFC 9110 §7.8): HTTP/1.1, `Upgrade`, the `upgrade` token
    /// among the `Connection` ones (any case, in a list, on any line), and no body.
    func testAnOfferToSwitchProtocolsIsNoted() throws {
        func upgrade(_ request: String) throws -> Bool {
            var decoder = RequestDecoder(limits: limits)
            var found: Bool?
            var buffer = ByteBuffer(string: request)
            try decoder.decode(&buffer) { part in
                if case .head(let p) = part { found = p.upgrade }
            }
            return try XCTUnwrap(found, request)
        }
        XCTAssertTrue(try upgrade("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
        XCTAssertTrue(try upgrade("GET / HTTP/1.1\r\nConnection: keep-alive, UPGRADE\r\nHost: h\r\nupgrade: foo/2\r\n\r\n"))
        // h2c is never an offer (requests inside its tunnel would pass the routes' access lists).
        XCTAssertFalse(try upgrade("GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nHost: h\r\nUpgrade: h2c\r\n\r\n"), "h2c")
        XCTAssertFalse(try upgrade("GET / HTTP/1.1\r\nConnection: upgrade\r\nHost: h\r\nUpgrade: websocket, H2C/1\r\n\r\n"), "h2c listed")
        XCTAssertFalse(try upgrade("GET / HTTP/1.1\r\nConnection: upgrade\r\nHost: h\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n\r\n"), "h2c on a line of its own")
        XCTAssertTrue(try upgrade("GET / HTTP/1.1\r\nConnection: upgrade\r\nHost: h\r\nUpgrade: h2cx\r\n\r\n"), "only h2c itself")
        XCTAssertTrue(try upgrade("GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"))
        XCTAssertFalse(try upgrade("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"), "no token")
        XCTAssertFalse(try upgrade("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n"), "no Upgrade")
        XCTAssertFalse(try upgrade("GET / HTTP/1.1\r\nHost: h\r\nUpgrades: x\r\nConnection: upgrades\r\n\r\n"), "near misses")
        XCTAssertFalse(try upgrade("GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"), "HTTP/1.0")
        XCTAssertFalse(try upgrade("POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nContent-Length: 1\r\n\r\nx"), "a body")
        XCTAssertTrue(try upgrade("POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nContent-Length: 0\r\n\r\n"), "an empty body is none")
    }

    /// Asked to at a request's end, the decoder holds what follows it, undecoded, across reads,
    /// until it is released; nothing is decoded meanwhile, and the decoder goes on after.
    func testWhatFollowsARequestCanBeHeld() throws {
        var decoder = RequestDecoder(limits: limits)
        var parts: [String] = []
        var hold = true
        func feed(_ text: String) throws {
            var buffer = ByteBuffer(string: text)
            try decoder.decode(&buffer, deliver: { part in
                switch part {
                case .head(let p): parts.append("head " + p.uri)
                case .body(let b): parts.append(String(buffer: b))
                case .end: parts.append("end")
                }
            }, holdAfterEnd: { hold })
        }
        try feed("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n")
        try feed("Host: h\r\n\r\n")
        XCTAssertEqual(parts, ["head /a", "end"])
        var held = try XCTUnwrap(decoder.releaseHeld())
        XCTAssertEqual(String(buffer: held), "GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertNil(decoder.releaseHeld(), "released once")
        hold = false
        try decoder.decode(&held) { part in
            if case .head(let p) = part { parts.append("head " + p.uri) } else if case .end = part { parts.append("end") }
        }
        try feed("POST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertEqual(parts, ["head /a", "end", "head /b", "end", "head /c", "ok", "end"])
        // Held after a body's end too, and nothing at all when nothing followed.
        hold = true
        try feed("POST /d HTTP/1.1\r\nContent-Length: 2\r\n\r\nokrest")
        XCTAssertEqual(String(buffer: try XCTUnwrap(decoder.releaseHeld())), "rest")
        try feed("GET /e HTTP/1.1\r\n\r\n")
        XCTAssertEqual(decoder.releaseHeld()?.readableBytes, 0)
    }
}
