import NIOCore
import XCTest

@testable import ServerCore

/// The relay's parser of upstream responses: the client's head built from the upstream's bytes
/// (hop-by-hop fields dropped, everything else verbatim), framing per RFC 9112 §6.3, bodies as
/// slices, and every malformed or cut-short response an error.
final class UpstreamResponseParserTests: XCTestCase {
    typealias Parser = UpstreamResponseParser

    /// What parsing `input` (fed in pieces of `step` bytes; 0 = all at once) produced.
    struct Parsed {
        var head: Parser.Head?
        var heads = 0
        var body = ""
        var ended = false
        var leftover = ""
    }

    func parse(_ input: String, step: Int = 0, noBody: Bool = false, eof: Bool = false) throws -> Parsed {
        var parser = Parser(noBody: noBody)
        var result = Parsed()
        let bytes = Array(input.utf8)
        let size = step == 0 ? max(bytes.count, 1) : step
        var offset = 0
        repeat {
            var buffer = ByteBuffer(bytes: bytes[offset..<min(offset + size, bytes.count)])
            offset += size
            while let event = try parser.next(&buffer) {
                switch event {
                case .head(let h):
                    result.head = h
                    result.heads += 1
                case .body(let b): result.body += String(buffer: b)
                case .end: result.ended = true
                }
            }
            result.leftover += String(buffer: buffer)
        } while offset < bytes.count
        if eof, let event = try parser.endOfInput(), case .end = event { result.ended = true }
        return result
    }

    func encoded(_ h: Parser.Head?) -> String { h.map { String(buffer: $0.encoded) } ?? "" }

    let nginx = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 29 Nov 2026 08:35:59 GMT\r\n"
        + "Content-Type: text/html\r\nContent-Length: 5\r\nConnection: keep-alive\r\nETag: \"6b0b-268\"\r\n\r\nhello"

    func testContentLengthResponseInOneRead() throws {
        let p = try parse(nginx)
        XCTAssertEqual(p.heads, 1)
        XCTAssertEqual(p.head?.status, 200)
        XCTAssertEqual(p.head?.framing, .length(5))
        XCTAssertEqual(p.head?.keepAlive, true)
        XCTAssertEqual(p.head?.closeRequested, false)
        XCTAssertEqual(p.head?.dated, true)
        XCTAssertEqual(encoded(p.head),
            "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 29 Nov 2026 08:35:59 GMT\r\n"
            + "Content-Type: text/html\r\nContent-Length: 5\r\nETag: \"6b0b-268\"\r\n")
        XCTAssertEqual(p.body, "hello")
        XCTAssertTrue(p.ended)
    }

    func testEverySplitGivesTheSameResult() throws {
        let whole = try parse(nginx)
        for step in 1...12 {
            let p = try parse(nginx, step: step)
            XCTAssertEqual(encoded(p.head), encoded(whole.head), "step \(step)")
            XCTAssertEqual(p.body, "hello", "step \(step)")
            XCTAssertTrue(p.ended, "step \(step)")
        }
    }

    func testHopByHopFieldsAreDroppedAndTheRestIsVerbatim() throws {
        let p = try parse(
            "HTTP/1.0 404 File not found\r\nServer: SimpleHTTP/0.6 Python/3.11\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\n"
                + "Keep-Alive: timeout=5\r\nProxy-Connection: x\r\nTE: trailers\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\n"
                + "content-type:text/html;charset=utf-8\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Spaces:   v  \r\n"
                + "Content-Length: 0\r\n\r\n")
        XCTAssertEqual(encoded(p.head),
            "HTTP/1.1 404 File not found\r\nServer: SimpleHTTP/0.6 Python/3.11\r\ncontent-type:text/html;charset=utf-8\r\n"
            + "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Spaces:   v  \r\nContent-Length: 0\r\n",
            "the reason phrase and each line as sent; Server and Date relayed (compat 4.5)")
        XCTAssertEqual(p.head?.closeRequested, true)
        XCTAssertEqual(p.head?.keepAlive, false)
        XCTAssertTrue(p.ended)
    }

    func testStatusLineWithoutReason() throws {
        let p = try parse("HTTP/1.1 204\r\n\r\n")
        XCTAssertEqual(encoded(p.head), "HTTP/1.1 204\r\n")
        XCTAssertEqual(p.head?.dated, false)
        XCTAssertEqual(p.head?.framing, Parser.Framing.none)
        XCTAssertTrue(p.ended)
    }

    /// A 204 has no body and must not carry a length (RFC 9110 §8.6): one the upstream sent is
    /// dropped, on one line or a list, and no body is read; a 304's is kept (it describes the GET).
    func testA204LosesItsContentLength() throws {
        for head in ["HTTP/1.1 204 No Content\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n",
                     "HTTP/1.1 204 No Content\r\nX-A: 1\r\nContent-Length: 5, 5\r\n\r\n"] {
            let p = try parse(head + "NEXT")
            XCTAssertEqual(encoded(p.head), "HTTP/1.1 204 No Content\r\nX-A: 1\r\n", head)
            XCTAssertEqual(p.head?.framing, Parser.Framing.none)
            XCTAssertEqual(p.body, "")
        }
        let notModified = try parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n")
        XCTAssertEqual(encoded(notModified.head), "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n")
    }

    func testChunkedBodyIsDecodedAndTrailersDropped() throws {
        let input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
            + "5\r\nhello\r\n1;ext=1\r\n,\r\nA \r\n world!!!!\r\n0\r\nX-Sum: 9\r\n\r\nNEXT"
        for step in [0, 1, 2, 3, 7] {
            let p = try parse(input, step: step)
            XCTAssertEqual(p.head?.framing, .chunked)
            XCTAssertEqual(encoded(p.head), "HTTP/1.1 200 OK\r\nX-A: 1\r\n", "Transfer-Encoding is this hop's")
            XCTAssertEqual(p.body, "hello, world!!!!", "step \(step)")
            XCTAssertTrue(p.ended)
            XCTAssertEqual(p.leftover, "NEXT", "bytes after the response stay in the buffer")
            XCTAssertEqual(p.head?.keepAlive, true)
        }
    }

    func testCloseDelimitedBody() throws {
        let input = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
        let open = try parse(input)
        XCTAssertEqual(open.head?.framing, .close)
        XCTAssertEqual(open.head?.keepAlive, false)
        XCTAssertFalse(open.ended, "only the close ends it")
        let closed = try parse(input, step: 4, eof: true)
        XCTAssertEqual(closed.body, "until the end")
        XCTAssertTrue(closed.ended)
    }

    func testKeepAliveByVersionAndConnection() throws {
        XCTAssertEqual(try parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").head?.keepAlive, false)
        XCTAssertEqual(try parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").head?.keepAlive, true)
        XCTAssertEqual(try parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").head?.keepAlive, true)
        XCTAssertEqual(try parse("HTTP/1.1 200 OK\r\nCONNECTION: CLOSE\r\nContent-Length: 0\r\n\r\n").head?.keepAlive, false)
    }

    func testResponsesWithoutBodies() throws {
        let head = try parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nNEXT", noBody: true)
        XCTAssertEqual(head.head?.framing, Parser.Framing.none, "the answer to a HEAD")
        XCTAssertEqual(encoded(head.head), "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n", "its length describes the GET")
        XCTAssertTrue(head.ended)
        XCTAssertEqual(head.leftover, "NEXT")
        for status in ["204 No Content", "304 Not Modified"] {
            let p = try parse("HTTP/1.1 \(status)\r\nContent-Length: 7\r\n\r\n")
            XCTAssertEqual(p.head?.framing, Parser.Framing.none, status)
            XCTAssertTrue(p.ended)
        }
    }

    func testInterimResponsesAreSkipped() throws {
        let p = try parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", step: 5)
        XCTAssertEqual(p.heads, 1)
        XCTAssertEqual(p.head?.status, 201)
        XCTAssertEqual(p.body, "ok")
        XCTAssertThrowsError(try parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"))
    }

    /// A transfer coding frames the body even beside a length, or from HTTP/1.0, but that framing
    /// is faulty (RFC 9112 §6.1, §6.3): relayed, and the connection is not used again (what the
    /// upstream sends after it would be read as the next response).
    func testTransferCodingWins() throws {
        let both = try parse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        XCTAssertEqual(both.head?.framing, .chunked)
        XCTAssertEqual(encoded(both.head), "HTTP/1.1 200 OK\r\n", "a length beside a transfer coding is dropped")
        XCTAssertEqual(both.body, "ok")
        XCTAssertTrue(both.ended)
        XCTAssertEqual(both.head?.keepAlive, false, "a length and a transfer coding: not reused")
        let lengthAfter = try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        XCTAssertEqual(lengthAfter.head?.keepAlive, false, "in either order")
        let old = try parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        XCTAssertEqual(old.head?.framing, .chunked)
        XCTAssertEqual(old.body, "ok")
        XCTAssertEqual(old.head?.keepAlive, false, "HTTP/1.0 with a transfer coding: not reused, even asked to be")
        let chunked = try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        XCTAssertEqual(chunked.head?.keepAlive, true, "chunked alone: reused")
    }

    /// `chunked` alone is the only transfer coding an upstream may send (the request goes without
    /// `TE`): any other, even before `chunked`, and `chunked` twice, are malformed heads (502),
    /// whether in one list or on several lines, and in any read split.
    func testTransferCodingsOtherThanChunkedAreErrors() throws {
        let bad = [
            "Transfer-Encoding: gzip, chunked\r\n", "Transfer-Encoding: gzip\r\n", "Transfer-Encoding: chunked, chunked\r\n",
            "Transfer-Encoding: chunked, gzip\r\n", "Transfer-Encoding: identity\r\n", "Transfer-Encoding:\r\n",
            "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\ntransfer-encoding: chunked\r\n",
        ]
        for fields in bad {
            for step in [0, 5] {
                XCTAssertThrowsError(try parse("HTTP/1.1 200 OK\r\n\(fields)\r\n2\r\nok\r\n0\r\n\r\n", step: step), fields.debugDescription) {
                    XCTAssertEqual($0 as? Parser.ParseError, .badTransferCoding, fields.debugDescription)
                }
            }
        }
        for value in ["chunked", "Chunked", "CHUNKED\t", " chunked ", "chunked,"] {
            let p = try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding:\(value)\r\n\r\n2\r\nok\r\n0\r\n\r\n")
            XCTAssertEqual(p.head?.framing, .chunked, value.debugDescription)
            XCTAssertEqual(p.body, "ok", value.debugDescription)
        }
    }

    /// Equal values, in a list or on several lines, are one length, and the client gets one
    /// `Content-Length: N` line where the first was (a list is rewritten: Go refuses it, Python
    /// reads to close); unequal or bad ones are errors.
    func testContentLengthValues() throws {
        let same = try parse("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\ncontent-length: 2\r\n\r\nok")
        XCTAssertEqual(same.head?.framing, .length(2))
        XCTAssertEqual(encoded(same.head), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", "relayed once, one value")
        XCTAssertEqual(same.body, "ok")
        let cases = [
            ("X-A: 1\r\nContent-Length: 2,2\r\nX-B: 2\r\nContent-Length: 2\r\n", "X-A: 1\r\nContent-Length: 2\r\nX-B: 2\r\n"),
            ("X-A: 1\ncontent-length:0002 , 2,\nX-B: 2\n", "X-A: 1\r\nContent-Length: 2\r\nX-B: 2\r\n"),
            ("content-length: 2\r\nX-B: 2\r\nContent-Length: 2, 2\r\n", "content-length: 2\r\nX-B: 2\r\n"),
            ("Content-Length: 2\r\nContent-Length: 2\r\n", "Content-Length: 2\r\n"),
        ]
        for (fields, relayed) in cases {
            for step in [0, 3, 7] {
                let p = try parse("HTTP/1.1 200 OK\r\n\(fields)\r\nok", step: step)
                XCTAssertEqual(encoded(p.head), "HTTP/1.1 200 OK\r\n" + relayed, "\(fields.debugDescription) step \(step)")
                XCTAssertEqual(p.head?.framing, .length(2))
                XCTAssertEqual(p.body, "ok")
            }
        }
        let head = try parse("HTTP/1.1 200 OK\r\nContent-Length: 100, 100\r\n\r\n", noBody: true)
        XCTAssertEqual(encoded(head.head), "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n", "the answer to a HEAD too")
        for bad in ["2, 3", "-1", "1x", "", "12345678901234567890"] {
            XCTAssertThrowsError(try parse("HTTP/1.1 200 OK\r\nContent-Length: \(bad)\r\n\r\n"), bad) { error in
                XCTAssertEqual(error as? Parser.ParseError, .badContentLength)
            }
        }
        XCTAssertThrowsError(try parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"))
    }

    func testMalformedHeadsAreErrors() {
        let bad = [
            "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "ICY 200 OK\r\n\r\n",
            "HTTP/1.1 200OK\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n",
            "HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nName : x\r\n\r\n", "HTTP/1.1 200 OK\r\n: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", "HTTP/1.1 200 OK\r\nA: 1\r2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: \0\r\n\r\n",
        ]
        for input in bad {
            XCTAssertThrowsError(try parse(input), input.debugDescription)
        }
    }

    func testLineFeedOnlyHeadsAreAccepted() throws {
        let p = try parse("HTTP/1.1 200 OK\nA: 1\nContent-Length: 2\n\nok")
        XCTAssertEqual(encoded(p.head), "HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 2\r\n")
        XCTAssertEqual(p.body, "ok")
    }

    func testMixedLineEndsAroundDroppedLines() throws {
        // Kept lines are copied in runs; a bare LF, a dropped line or the end breaks a run.
        let p = try parse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\nConnection: keep-alive\r\nC: 3\r\nKeep-Alive: x\nD: 4\nE: 5\r\n"
            + "Content-Length: 2\r\n\r\nok")
        XCTAssertEqual(encoded(p.head), "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nContent-Length: 2\r\n")
        XCTAssertEqual(p.body, "ok")
    }

    func testOversizedHeadIsAnError() {
        let big = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: " + String(repeating: "a", count: 100) + "\r\n", count: 700)
        XCTAssertThrowsError(try parse(big, step: 1000)) { XCTAssertEqual($0 as? Parser.ParseError, .headTooLarge) }
        XCTAssertThrowsError(try parse(big + "\r\n")) { XCTAssertEqual($0 as? Parser.ParseError, .headTooLarge) }
    }

    func testBadChunksAreErrors() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        for body in ["g\r\n", "\r\n", ";x\r\n", "2\r\nokX\r\n", "1234567890123456\r\n", String(repeating: "0", count: 9000)] {
            XCTAssertThrowsError(try parse(head + body), body.debugDescription)
        }
    }

    func testCutShortResponses() throws {
        var idle = Parser()
        XCTAssertNil(try idle.endOfInput(), "closed before any byte: the caller decides (a failed attempt)")
        XCTAssertThrowsError(try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", eof: true)) {
            XCTAssertEqual($0 as? Parser.ParseError, .truncated)
        }
        XCTAssertThrowsError(try parse("HTTP/1.1 200 OK\r\nContent-", eof: true))
        XCTAssertThrowsError(try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe", eof: true))
    }

    func testResetForTheNextResponse() throws {
        var parser = Parser()
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        guard case .head = try parser.next(&buffer), case .end = try parser.next(&buffer) else { return XCTFail() }
        XCTAssertTrue(parser.isDone)
        parser.reset(noBody: true)
        XCTAssertFalse(parser.isDone)
        buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n")
        guard case .head = try parser.next(&buffer), case .end = try parser.next(&buffer) else { return XCTFail("HEAD: no body") }
    }

    func testHeadLinesAndRemoval() throws {
        var head = try XCTUnwrap(try parse(nginx).head)
        XCTAssertEqual(head.lines().first { $0.name == "Content-Type" }?.value, "text/html")
        head.prepareForGzip()
        XCTAssertFalse(encoded(head).contains("Content-Length"))
        XCTAssertTrue(encoded(head).hasPrefix("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"))
    }

    /// As a gzipped body goes: no length nor Accept-Ranges, the ETag weak (a weak one kept), and
    /// every other line byte for byte (bytes over 0x7F included).
    func testHeadPreparedForGzip() throws {
        var bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"abc\"\r\nAccept-Ranges: bytes\r\nX-A: caf".utf8)
        bytes += [0xE9] + Array(".txt\r\nLast-Modified: x\r\n\r\nhello".utf8)
        var buffer = ByteBuffer(bytes: bytes)
        var parser = Parser()
        guard case .head(var head)? = try parser.next(&buffer) else { return XCTFail() }
        head.prepareForGzip()
        XCTAssertEqual(Array(head.encoded.readableBytesView),
                       Array("HTTP/1.1 200 OK\r\nETag: W/\"abc\"\r\nX-A: caf".utf8) + [0xE9] + Array(".txt\r\nLast-Modified: x\r\n".utf8))
        buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nETag: W/\"w\"\r\nContent-Length: 0\r\n\r\n")
        parser = Parser()
        guard case .head(var weak)? = try parser.next(&buffer) else { return XCTFail() }
        weak.prepareForGzip()
        XCTAssertEqual(encoded(weak), "HTTP/1.1 200 OK\r\nETag: W/\"w\"\r\n")
    }

    /// A head buffer handed back once written is where the next head goes, when nothing else
    /// holds it any more; while something does (a write still in flight), the next head gets new
    /// memory and the held bytes stay as they were.
    func testRecycledHeadBufferIsReusedOnlyWhenFree() throws {
        func head(_ parser: inout Parser, _ text: String) throws -> Parser.Head {
            parser.reset(noBody: false)
            var buffer = ByteBuffer(string: text)
            guard case .head(let h)? = try parser.next(&buffer) else { return try XCTUnwrap(nil, "no head") }
            return h
        }
        func address(_ b: ByteBuffer) -> UnsafeRawPointer? { b.withUnsafeReadableBytes { $0.baseAddress } }
        var parser = Parser()
        var first = try head(&parser, nginx).encoded
        first.writeStaticString("added by the relay")
        let firstAddress = address(first)
        parser.recycle(first)
        first = ByteBuffer()  // the write released it
        let second = try head(&parser, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").encoded
        XCTAssertEqual(address(second), firstAddress, "the same memory")
        XCTAssertEqual(String(buffer: second), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n")

        parser.recycle(second)  // ... and `second` still held (a write in flight)
        let third = try head(&parser, nginx).encoded
        XCTAssertNotEqual(address(third), address(second))
        XCTAssertEqual(String(buffer: second), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n", "untouched")
        XCTAssertTrue(String(buffer: third).hasPrefix("HTTP/1.1 200 OK\r\n"))

        var big = ByteBuffer()
        big.reserveCapacity(Parser.recycleLimit * 2)
        parser.recycle(big)
        big = ByteBuffer()
        XCTAssertLessThanOrEqual(try head(&parser, nginx).encoded.capacity, Parser.recycleLimit, "large buffers are not kept")
    }

    /// A first read that holds part of a head: nothing yet, and the rest completes it; a malformed
    /// line in it is an error at once (the head is walked as it is, its end not looked for first).
    func testPartOfAHeadInTheFirstRead() throws {
        var parser = Parser()
        var first = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b")
        XCTAssertNil(try parser.next(&first))
        var rest = ByteBuffer(string: "c\r\n\r\nhello")
        guard case .head(let head)? = try parser.next(&rest) else { return XCTFail("no head") }
        XCTAssertEqual(encoded(head), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: bc\r\n")
        guard case .body(let body)? = try parser.next(&rest) else { return XCTFail("no body") }
        XCTAssertEqual(String(buffer: body), "hello")

        var bad = Parser()
        var partial = ByteBuffer(string: "HTTP/1.1 200 OK\r\nBad Line\r\nContent-Le")
        XCTAssertThrowsError(try bad.next(&partial)) { XCTAssertEqual($0 as? Parser.ParseError, .malformedHead) }
        // A large first read still finds its end first, and parses the same.
        let big = try parse(nginx.replacingOccurrences(of: "hello", with: "") + String(repeating: "x", count: 4000), step: 0)
        XCTAssertEqual(encoded(big.head), encoded(try parse(nginx).head))
    }

    /// A 101 to a request that offered to switch protocols: its head with `Upgrade` (and no
    /// `Connection`, the relay's own), then every byte as it comes, at any split, until the
    /// upstream closes.
    func testA101ToAnOfferStartsATunnel() throws {
        let input = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: abc\r\n\r\n\u{7F}\u{05}hello HTTP/1.1 200 OK\r\n\r\n"
        for step in [0, 1, 7, 40] {
            var parser = Parser(upgrade: true)
            var head: Parser.Head?
            var after = ""
            let bytes = Array(input.utf8)
            var offset = 0
            let size = step == 0 ? bytes.count : step
            while offset < bytes.count {
                var buffer = ByteBuffer(bytes: bytes[offset..<min(offset + size, bytes.count)])
                offset += size
                while let event = try parser.next(&buffer) {
                    switch event {
                    case .head(let h): head = h
                    case .body(let b): after += String(buffer: b)
                    case .end: XCTFail("a tunnel ends at the upstream's close only")
                    }
                }
                XCTAssertEqual(buffer.readableBytes, 0)
            }
            XCTAssertEqual(head?.status, 101)
            XCTAssertEqual(head?.framing, Parser.Framing.none)
            XCTAssertEqual(encoded(head), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: abc\r\n", "step \(step)")
            XCTAssertEqual(after, "\u{7F}\u{05}hello HTTP/1.1 200 OK\r\n\r\n", "step \(step)")
            guard case .end? = try parser.endOfInput() else { return XCTFail("the close ends it") }
        }
        // Not offered: an error, as before; offered, any other answer is an ordinary one.
        XCTAssertThrowsError(try parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"))
        var parser = Parser(upgrade: true)
        var buffer = ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 2\r\n\r\nno")
        guard case .head(let h)? = try parser.next(&buffer) else { return XCTFail("head") }
        XCTAssertEqual(h.status, 426)
        XCTAssertEqual(encoded(h), "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n", "Upgrade is hop-by-hop in other answers")
        guard case .body(let b)? = try parser.next(&buffer), case .end? = try parser.next(&buffer) else { return XCTFail("body") }
        XCTAssertEqual(String(buffer: b), "no")
    }
}
