import XCTest
@testable import ServerCore

/// Single byte ranges on small (cached, in-memory) and large (sendfile) files; multi-range and
/// If-Range fall back to the whole file; unsatisfiable ranges are 416 with `bytes */size`.
final class RangeTests: ServerTestCase {
    /// Bigger than `FileCache.maxFileBytes`, so it is sent with sendfile rather than from memory.
    static let bigSize = 1 << 20
    var server: TestServer!
    var fixture: Fixture { server.fixture }
    var text: [UInt8] { fixture.bytes("public/sample.txt") }

    override func setUpWithError() throws {
        let f = try makeFixture()
        var big = [UInt8](repeating: 0, count: Self.bigSize)
        for i in big.indices { big[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
        try f.write(Data(big), to: "public/big.bin")
        server = try startTester(fixture: f)
    }

    func get(_ path: String, _ headers: String...) throws -> HTTPResult {
        let x = try exchange(server, getRequest(path, headers: headers))
        XCTAssertTrue(x.headInFirstChunk)
        assertDefaultHeaders(x.response)
        return x.response
    }

    func assertPartial(
        _ r: HTTPResult, of all: [UInt8], _ range: ClosedRange<Int>, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(r.status, 206, file: file, line: line)
        XCTAssertEqual(r.header("Content-Range"), "bytes \(range.lowerBound)-\(range.upperBound)/\(all.count)", file: file, line: line)
        XCTAssertEqual(r.header("Content-Length"), String(range.count), file: file, line: line)
        XCTAssertTrue(r.body == Array(all[range]), "wrong bytes for \(range)", file: file, line: line)
    }

    func testFirstTenBytes() throws {
        let r = try get("/sample.txt", "Range: bytes=0-9")
        assertPartial(r, of: text, 0...9)
        XCTAssertEqual(r.header("Content-Type"), "text/plain")
        XCTAssertEqual(r.header("Accept-Ranges"), "bytes")
    }

    func testSuffixRange() throws {
        assertPartial(try get("/sample.txt", "Range: bytes=-5"), of: text, 1237...1241)
    }

    func testOpenEndedRange() throws {
        assertPartial(try get("/sample.txt", "Range: bytes=10-"), of: text, 10...1241)
    }

    func testEndPastEOFIsClamped() throws {
        assertPartial(try get("/sample.txt", "Range: bytes=1000-999999"), of: text, 1000...1241)
    }

    func testSuffixLongerThanFileIsWholeFile() throws {
        assertPartial(try get("/sample.txt", "Range: bytes=-5000"), of: text, 0...1241)
    }

    func testUnsatisfiable() throws {
        for range in ["bytes=999999-", "bytes=1242-"] {
            let r = try get("/sample.txt", "Range: \(range)")
            XCTAssertEqual(r.status, 416, range)
            XCTAssertEqual(r.header("Content-Range"), "bytes */1242", range)
            XCTAssertTrue(r.body.isEmpty, range)
        }
    }

    func testMultiRangeGetsWholeFile() throws {
        let r = try get("/sample.txt", "Range: bytes=0-1,5-6")
        assertFile(r, type: "text/plain", bytes: text)
        XCTAssertNil(r.header("Content-Range"))
    }

    func testIfRange() throws {
        let etag = try XCTUnwrap(try get("/sample.txt").header("ETag"))
        assertPartial(try get("/sample.txt", "Range: bytes=0-9", "If-Range: \(etag)"), of: text, 0...9)
        let stale = try get("/sample.txt", "Range: bytes=0-9", "If-Range: \"0-0\"")
        assertFile(stale, type: "text/plain", bytes: text)
    }

    func testRangeOnCatJPEG() throws {
        let cat = fixture.bytes("public/cat.jpg")
        assertPartial(try get("/cat.jpg", "Range: bytes=100000-100099"), of: cat, 100000...100099)
        assertPartial(try get("/cat.jpg", "Range: bytes=-1"), of: cat, 156144...156144)
    }

    func testLargeFileFullViaSendfile() throws {
        XCTAssertGreaterThan(Self.bigSize, server.server.state.dispatcher.files.cache.maxFileBytes)
        let r = try get("/big.bin")
        assertFile(r, type: "application/octet-stream", bytes: fixture.bytes("public/big.bin"))
    }

    func testLargeFileRangesViaSendfile() throws {
        let big = fixture.bytes("public/big.bin")
        assertPartial(try get("/big.bin", "Range: bytes=500000-500099"), of: big, 500000...500099)
        assertPartial(try get("/big.bin", "Range: bytes=-70000"), of: big, (big.count - 70000)...(big.count - 1))
        assertPartial(try get("/big.bin", "Range: bytes=300000-"), of: big, 300000...(big.count - 1))
        let r = try get("/big.bin", "Range: bytes=\(big.count)-")
        XCTAssertEqual(r.status, 416)
        XCTAssertEqual(r.header("Content-Range"), "bytes */\(big.count)")
    }

    func testLargeFileKeepAliveAfterSendfile() throws {
        // After a sendfile body, the same connection still frames the next response correctly.
        let big = fixture.bytes("public/big.bin")
        let client = try RawClient(port: server.port)
        try client.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /sample.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let first = try client.readResponse()
        XCTAssertTrue(first.body == big)
        let second = try client.readResponse()
        XCTAssertEqual(second.text, Fixture.sampleText)
    }
}
