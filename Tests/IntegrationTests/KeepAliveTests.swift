import XCTest

/// Persistent connections and pipelining: responses in request order with correct framing,
/// HTTP/1.0 opt-in keep-alive, and errors closing only their own connection.
final class KeepAliveTests: ServerTestCase {
    var server: TestServer!
    var fixture: Fixture { server.fixture }

    override func setUpWithError() throws {
        server = try startTester()
    }

    func testThreePipelinedRequestsAnsweredInOrder() throws {
        let client = try RawClient(port: server.port)
        let paths = ["/sample.txt", "/sample.pdf", "/test/cat.jpg"]
        try client.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: localhost\r\n\r\n" }.joined())
        let types = ["text/plain", "application/pdf", "image/jpeg"]
        for (path, type) in zip(paths, types) {
            let r = try client.readResponse()
            assertDefaultHeaders(r)
            assertFile(r, type: type, bytes: fixture.bytes("public" + path))
            XCTAssertNil(r.header("Connection"), path)
        }
        // Still open: a fourth request on the same connection is answered too.
        try client.send(getRequest("/sample.txt"))
        XCTAssertEqual(try client.readResponse().text, Fixture.sampleText)
    }

    func testHTTP11StaysOpenWithoutConnectionHeader() throws {
        let client = try RawClient(port: server.port)
        try client.send("GET /sample.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let first = try client.readResponse()
        XCTAssertEqual(first.status, 200)
        XCTAssertNotEqual(first.header("Connection"), "close")
        try client.send("GET /sample.pdf HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let second = try client.readResponse()
        assertFile(second, type: "application/pdf", bytes: fixture.bytes("public/sample.pdf"))
        try client.send(getRequest("/"))
        let third = try client.readResponse()
        XCTAssertEqual(third.header("Content-Type"), "text/html")
        XCTAssertEqual(third.header("Connection"), "close")
        XCTAssertTrue(client.readAll().closed)
    }

    func testHTTP10KeepAlive() throws {
        let client = try RawClient(port: server.port)
        try client.send("GET /sample.txt HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
        let first = try client.readResponse()
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.header("Connection"), "keep-alive")
        XCTAssertEqual(first.text, Fixture.sampleText)
        try client.send("GET /sample.pdf HTTP/1.0\r\nHost: localhost\r\n\r\n")
        let second = try client.readResponse()
        assertFile(second, type: "application/pdf", bytes: fixture.bytes("public/sample.pdf"))
        XCTAssertTrue(client.readAll().closed, "HTTP/1.0 without keep-alive closes")
    }

    func testBadRequestClosesTheConnection() throws {
        let client = try RawClient(port: server.port)
        try client.send("GET /sample.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        try client.send("GOT /sample.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let all = client.readAll()
        XCTAssertTrue(all.closed)
        let r = try XCTUnwrap(HTTPResult.parse(all.bytes, complete: true))
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.header("Connection"), "close")
    }

    /// A request whose transfer codings we cannot take is answered (501 for a coding other than
    /// chunked, 400 for one on HTTP/1.0) and closes the connection: its body cannot be delimited.
    func testUnusableTransferEncodingIsAnsweredAndCloses() throws {
        for (request, status) in [
            ("POST /sample.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("POST /sample.txt HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ] {
            let client = try RawClient(port: server.port)
            try client.send(request + "5\r\nhello\r\n0\r\n\r\nGET /sample.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let all = client.readAll()
            XCTAssertTrue(all.closed, request)
            let r = try XCTUnwrap(HTTPResult.parse(all.bytes, complete: true), request)
            XCTAssertEqual(r.status, status, request)
            XCTAssertEqual(r.header("Connection"), "close", request)
            assertDefaultHeaders(r)
        }
    }

    func testMissingHostOnKeptAliveConnectionIs400AndCloses() throws {
        let client = try RawClient(port: server.port)
        try client.send("GET /sample.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /sample.txt HTTP/1.1\r\nAccept: */*\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        let all = client.readAll()
        XCTAssertTrue(all.closed)
        XCTAssertEqual(HTTPResult.parse(all.bytes, complete: true)?.status, 400)
    }

    func testMalformedRequestDoesNotDisturbAnotherConnection() throws {
        let good = try RawClient(port: server.port)
        try good.send("GET /sample.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertEqual(try good.readResponse().status, 200)

        let bad = try RawClient(port: server.port)
        try bad.send("\u{1}\u{2} garbage \r\n\r\n")
        let answer = bad.readAll()
        XCTAssertTrue(answer.closed)
        XCTAssertEqual(HTTPResult.parse(answer.bytes, complete: true)?.status, 400)

        try good.send("GET /sample.pdf HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assertFile(try good.readResponse(), type: "application/pdf", bytes: fixture.bytes("public/sample.pdf"))
    }
}

/// HEAD: the GET headers (Content-Length included), no body, and the connection stays usable.
final class HeadTests: ServerTestCase {
    var server: TestServer!

    override func setUpWithError() throws {
        server = try startTester()
    }

    func assertSameHeaders(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let get = try exchange(server, getRequest(path)).response
        let client = try RawClient(port: server.port)
        try client.send("HEAD \(path) HTTP/1.1\r\nHost: localhost\r\n\r\nGET /sample.pdf HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let head = try client.readResponse(headRequest: true)
        XCTAssertEqual(head.status, get.status, file: file, line: line)
        assertDefaultHeaders(head, file: file, line: line)
        for name in ["Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges"] {
            XCTAssertEqual(head.header(name), get.header(name), "\(path): \(name)", file: file, line: line)
        }
        XCTAssertEqual(head.header("Content-Length"), String(get.body.count), file: file, line: line)
        // The next pipelined response starts right where the HEAD response's header block ended.
        let next = try client.readResponse()
        XCTAssertEqual(next.status, 200, file: file, line: line)
        XCTAssertEqual(next.header("Content-Type"), "application/pdf", file: file, line: line)
        XCTAssertTrue(next.body == server.fixture.bytes("public/sample.pdf"), file: file, line: line)
        XCTAssertTrue(client.readAll().bytes.isEmpty, "bytes after the last response", file: file, line: line)
    }

    func testHeadOfSmallFile() throws { try assertSameHeaders("/sample.txt") }

    func testHeadOfCachedLargeFile() throws { try assertSameHeaders("/cat.jpg") }

    func testHeadOfListing() throws { try assertSameHeaders("/test") }

    func testHeadOfRangeKeepsPartialLength() throws {
        let client = try RawClient(port: server.port)
        try client.send("HEAD /sample.txt HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n")
        let all = client.readAll()
        XCTAssertTrue(all.closed)
        let r = try XCTUnwrap(HTTPResult.parse(all.bytes, headRequest: true, complete: true))
        XCTAssertEqual(r.status, 206)
        XCTAssertEqual(r.header("Content-Length"), "10")
        XCTAssertTrue(r.rest.isEmpty, "HEAD must not send a body")
    }
}
