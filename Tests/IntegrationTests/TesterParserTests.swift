import XCTest

/// compat 7.2: the official tester's stage 14/15 raw-socket cases (P1-P16) against the
/// tester's config. Each one reads the way the tester does: the header block must be in the
/// first chunk, and the server closes after `Connection: close`.
final class TesterParserTests: ServerTestCase {
    var server: TestServer!
    var fixture: Fixture { server.fixture }

    override func setUpWithError() throws {
        server = try startTester()
    }

    func testerRequest(_ path: String, accept: String) -> String {
        "GET \(path) HTTP/1.1\r\nHost: localhost:8001\r\nUser-Agent: TestClient/1.0\r\nAccept: \(accept)\r\nConnection: close\r\n\r\n"
    }

    func assertTesterFile(_ path: String, accept: String, type: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try exchange(server, testerRequest("/" + path, accept: accept))
        XCTAssertTrue(x.headInFirstChunk, "header block split over chunks", file: file, line: line)
        XCTAssertTrue(x.closed, "server did not close after Connection: close", file: file, line: line)
        assertDefaultHeaders(x.response, file: file, line: line)
        assertFile(x.response, type: type, bytes: fixture.bytes("public/" + path), file: file, line: line)
    }

    /// A request that must be refused with 400 (default headers, header block in one chunk, closed).
    func assertBadRequest(_ request: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try exchange(server, request)
        XCTAssertEqual(x.response.status, 400, request.debugDescription, file: file, line: line)
        XCTAssertTrue(x.headInFirstChunk, file: file, line: line)
        XCTAssertTrue(x.closed, "a 400 must close the connection", file: file, line: line)
        assertDefaultHeaders(x.response, file: file, line: line)
        XCTAssertTrue(x.response.body.isEmpty, file: file, line: line)
    }

    func testP1CatJPEG() throws {
        try assertTesterFile("cat.jpg", accept: "image/jpeg", type: "image/jpeg")
        XCTAssertEqual(fixture.bytes("public/cat.jpg").count, 156145)
    }

    func testP2SamplePDF() throws {
        try assertTesterFile("sample.pdf", accept: "application/pdf", type: "application/pdf")
    }

    func testP3SampleText() throws {
        try assertTesterFile("sample.txt", accept: "text/plain", type: "text/plain")
        let r = try exchange(server, testerRequest("/sample.txt", accept: "text/plain")).response
        XCTAssertEqual(r.header("Content-Length"), "1242")
        XCTAssertEqual(r.text, Fixture.sampleText)
    }

    func testP4MissingFileIs404() throws {
        let x = try exchange(server, testerRequest("/test.html", accept: "text/html"))
        XCTAssertEqual(x.response.status, 404)
        XCTAssertTrue(x.headInFirstChunk)
        assertDefaultHeaders(x.response)
    }

    func testP5MissingVersion() throws {
        try assertBadRequest("GET /index.html\r\nHost: localhost:8001\r\n\r\n")
    }

    func testP6UnknownMethod() throws {
        try assertBadRequest("GOT /index.html HTTP/1.1\r\nHost: localhost:8001\r\n\r\n")
    }

    func testP7NoHeadersAtAll() throws {
        try assertBadRequest("GET /index.html HTTP/1.1\r\n\r\n")
    }

    func testP8BadProtocolName() throws {
        try assertBadRequest("GET /index.html HTTX/2.0\r\nHost: localhost:8001\r\n\r\n")
    }

    func testP9HeaderWithoutColon() throws {
        try assertBadRequest("GET /index.html HTTP/1.1\r\nHost localhost:8001\r\n\r\n")
    }

    func testP10HTTP2Version() throws {
        try assertBadRequest("GET /x HTTP/2.0\r\nHost: localhost:8001\r\n\r\n")
    }

    func testP11LowercaseMethod() throws {
        try assertBadRequest("get / HTTP/1.1\r\nHost: localhost:8001\r\n\r\n")
    }

    func testP12HTTP10ListingThenClose() throws {
        let x = try exchange(server, "GET / HTTP/1.0\r\nHost: localhost:8001\r\n\r\n")
        XCTAssertEqual(x.response.status, 200)
        XCTAssertEqual(x.response.header("Content-Type"), "text/html")
        XCTAssertTrue(x.headInFirstChunk)
        XCTAssertTrue(x.closed, "HTTP/1.0 without keep-alive must close after the response")
        XCTAssertEqual(x.response.header("Content-Length"), String(x.response.body.count))
        assertDefaultHeaders(x.response)
    }

    /// Beyond the tester: an HTTP/1.0 request may have no header fields at all (a load balancer's
    /// health check: HAProxy's `option httpchk` sends `OPTIONS / HTTP/1.0` and a blank line).
    func testHTTP10WithNoFieldsIsServed() throws {
        let x = try exchange(server, "GET /sample.txt HTTP/1.0\r\n\r\n")
        assertFile(x.response, type: "text/plain", bytes: fixture.bytes("public/sample.txt"))
        XCTAssertTrue(x.closed)
        XCTAssertEqual(try exchange(server, "OPTIONS / HTTP/1.0\r\n\r\n").response.status, 200)
    }

    /// Beyond the tester: a Host that is not a host and port is 400 (RFC 9112 §3.2), not a name
    /// for routing.
    func testInvalidHostIs400() throws {
        for host in ["a b", "a/../b", "localhost:8001@evil.test", "localhost:80x"] {
            try assertBadRequest("GET /sample.txt HTTP/1.1\r\nHost: \(host)\r\n\r\n")
        }
    }

    func testP13QueryIgnored() throws {
        let x = try exchange(server, "GET /sample.txt?a=1 HTTP/1.1\r\nHost: localhost:8001\r\nConnection: close\r\n\r\n")
        assertFile(x.response, type: "text/plain", bytes: fixture.bytes("public/sample.txt"))
        XCTAssertTrue(x.headInFirstChunk)
    }

    func testP14MethodIgnored() throws {
        let x = try exchange(server, "POST /sample.txt HTTP/1.1\r\nHost: localhost:8001\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        assertFile(x.response, type: "text/plain", bytes: fixture.bytes("public/sample.txt"))
        XCTAssertTrue(x.headInFirstChunk)
    }

    func testP15DefaultHeadersOnEveryKindOfResponse() throws {
        let requests = [
            getRequest("/sample.txt"), getRequest("/"), getRequest("/nope"), getRequest("/redirect"),
            "GOT / HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        for request in requests {
            let x = try exchange(server, request)
            XCTAssertTrue(x.headInFirstChunk, request)
            assertDefaultHeaders(x.response)
        }
    }

    func testP16ClosesAfterConnectionClose() throws {
        let client = try RawClient(port: server.port)
        try client.send(testerRequest("/sample.txt", accept: "text/plain"))
        let all = client.readAll()
        XCTAssertTrue(all.closed)
        let r = try XCTUnwrap(HTTPResult.parse(all.bytes, complete: true))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Connection"), "close")
        XCTAssertTrue(r.rest.isEmpty)
    }
}
