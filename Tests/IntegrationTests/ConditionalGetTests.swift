import ServerCore
import XCTest

/// ETag / Last-Modified validators, 304 answers, and that a changed file is never served stale
/// from the file cache.
final class ConditionalGetTests: ServerTestCase {
    var server: TestServer!
    var fixture: Fixture { server.fixture }

    override func setUpWithError() throws {
        server = try startTester()
    }

    func get(_ path: String, _ headers: String...) throws -> HTTPResult {
        try get(path, headers: headers)
    }

    func get(_ path: String, headers: [String]) throws -> HTTPResult {
        let x = try exchange(server, getRequest(path, headers: headers))
        XCTAssertTrue(x.headInFirstChunk)
        XCTAssertTrue(x.closed)
        assertDefaultHeaders(x.response)
        return x.response
    }

    func validators(_ path: String) throws -> (etag: String, lastModified: String) {
        let r = try get(path)
        XCTAssertEqual(r.status, 200)
        return (try XCTUnwrap(r.header("ETag")), try XCTUnwrap(r.header("Last-Modified")))
    }

    func assertNotModified(_ r: HTTPResult, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 304, file: file, line: line)
        XCTAssertTrue(r.body.isEmpty && r.rest.isEmpty, "304 must have no body", file: file, line: line)
        XCTAssertNil(r.header("Content-Length"), file: file, line: line)
        XCTAssertNil(r.header("Transfer-Encoding"), file: file, line: line)
    }

    /// A method other than GET and HEAD (answered as GET): If-Modified-Since is ignored, and a
    /// matching If-None-Match is 412, never 304.
    func testOtherMethodsGet412Or200NotA304() throws {
        let (etag, lastModified) = try validators("/sample.txt")
        func send(_ method: String, _ header: String) throws -> Int {
            try exchange(server, "\(method) /sample.txt HTTP/1.1\r\nHost: localhost:8001\r\n\(header)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .response.status
        }
        XCTAssertEqual(try send("POST", "If-Modified-Since: \(lastModified)"), 200)
        XCTAssertEqual(try send("PUT", "If-None-Match: *"), 412)
        XCTAssertEqual(try send("PUT", "If-None-Match: \(etag)"), 412)
        XCTAssertEqual(try send("GET", "If-None-Match: \(etag)"), 304)
    }

    func testValidatorsPresent() throws {
        let (etag, lastModified) = try validators("/sample.txt")
        XCTAssertTrue(etag.hasPrefix("\"") && etag.hasSuffix("\""), etag)
        XCTAssertNotNil(HTTPDate.parse(lastModified), lastModified)
        let big = try get("/cat.jpg")
        XCTAssertNotNil(big.header("ETag"))
        XCTAssertNotNil(big.header("Last-Modified"))
    }

    func testIfNoneMatch() throws {
        let (etag, _) = try validators("/sample.txt")
        let r = try get("/sample.txt", "If-None-Match: \(etag)")
        assertNotModified(r)
        XCTAssertEqual(r.header("ETag"), etag)
        assertNotModified(try get("/sample.txt", "If-None-Match: *"))
        assertNotModified(try get("/sample.txt", "If-None-Match: \"nope\", \(etag), \"other\""))
        assertNotModified(try get("/sample.txt", "If-None-Match: W/\(etag)"))
        XCTAssertEqual(try get("/sample.txt", "If-None-Match: \"nope\"").status, 200)
    }

    func testIfModifiedSince() throws {
        let (_, lastModified) = try validators("/sample.txt")
        assertNotModified(try get("/sample.txt", "If-Modified-Since: \(lastModified)"))
        let older = try get("/sample.txt", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT")
        assertFile(older, type: "text/plain", bytes: fixture.bytes("public/sample.txt"))
        // A date in the future is no time the client can have had the file at: ignored.
        let future = try get("/sample.txt", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT")
        assertFile(future, type: "text/plain", bytes: fixture.bytes("public/sample.txt"))
    }

    /// A failed If-Match or If-Unmodified-Since is 412 and nothing of the file (RFC 9110
    /// §13.1.1, §13.1.4), decided before If-None-Match; as nginx answers.
    func testFailedPreconditionsAre412() throws {
        let (etag, lastModified) = try validators("/sample.txt")
        for headers in [
            ["If-Match: \"nope\""],
            ["If-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT"],
            ["If-Match: \"nope\"", "If-None-Match: \(etag)"],
            ["If-Match: W/\(etag)"],
        ] {
            let r = try get("/sample.txt", headers: headers)
            XCTAssertEqual(r.status, 412, "\(headers)")
            XCTAssertTrue(r.body.isEmpty, "\(headers)")
        }
        XCTAssertEqual(try get("/sample.txt", "If-Match: \(etag)").text, Fixture.sampleText)
        XCTAssertEqual(try get("/sample.txt", "If-Unmodified-Since: \(lastModified)").status, 200)
        XCTAssertEqual(try get("/sample.txt", "If-Match: \(etag)", "Range: Bytes=0-4").status, 206, "the unit in any case")
    }

    func testIfNoneMatchWinsOverIfModifiedSince() throws {
        let (_, lastModified) = try validators("/sample.txt")
        let r = try get("/sample.txt", "If-None-Match: \"nope\"", "If-Modified-Since: \(lastModified)")
        XCTAssertEqual(r.status, 200)
    }

    func testModifiedFileGetsNewETagAndContent() throws {
        let (oldETag, oldLastModified) = try validators("/sample.txt")
        // Served once more so it is certainly in the cache.
        assertNotModified(try get("/sample.txt", "If-None-Match: \(oldETag)"))
        let url = fixture.publicDir.appendingPathComponent("sample.txt")
        try Data("brand new content".utf8).write(to: url)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000_000)], ofItemAtPath: url.path)

        let r = try get("/sample.txt", "If-None-Match: \(oldETag)")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "brand new content")
        XCTAssertEqual(r.header("Content-Length"), "17")
        XCTAssertNotEqual(r.header("ETag"), oldETag)
        XCTAssertEqual(r.header("Last-Modified"), "Sun, 09 Sep 2001 01:46:40 GMT")
        XCTAssertNotEqual(r.header("Last-Modified"), oldLastModified)
        assertNotModified(try get("/sample.txt", "If-None-Match: \(try XCTUnwrap(r.header("ETag")))"))
    }

    func testSameSizeRewriteWithNewMtimeIsNotStale() throws {
        let (oldETag, _) = try validators("/sample.txt")
        let url = fixture.publicDir.appendingPathComponent("sample.txt")
        let replacement = String(repeating: "z", count: Fixture.sampleText.utf8.count)
        try Data(replacement.utf8).write(to: url)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_500_000_000)], ofItemAtPath: url.path)
        let r = try get("/sample.txt")
        XCTAssertEqual(r.text, replacement)
        XCTAssertNotEqual(r.header("ETag"), oldETag)
    }

    /// A file rewritten in place with its size and mtime put back (`cp -p` over it, `rsync
    /// --inplace -t`) is not served from the cache: its ctime changed. (Gzipped: GzipTests.)
    func testAnInPlaceRewriteKeepingSizeAndMtimeIsNotStale() throws {
        let size = 600 << 10  // (over the small-file cache's limit too: both ways of caching)
        for (n, name) in ["small.txt", "same.txt"].enumerated() {
            let url = fixture.publicDir.appendingPathComponent(name)
            let count = n == 0 ? 20_000 : size
            try Data(repeating: UInt8(ascii: "A"), count: count).write(to: url)
            let mtime = Date(timeIntervalSince1970: 1_500_000_000)
            try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: url.path)
            XCTAssertEqual(try get("/\(name)").body.first, UInt8(ascii: "A"))
            usleep(20_000)  // (a ctime one tick later)
            let handle = try FileHandle(forWritingTo: url)  // in place: the same inode
            try handle.write(contentsOf: Data(repeating: UInt8(ascii: "B"), count: count))
            try handle.close()
            try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: url.path)
            XCTAssertEqual(try get("/\(name)").body.first, UInt8(ascii: "B"), name)
        }
    }
}
