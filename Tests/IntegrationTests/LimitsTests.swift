import XCTest
@testable import ServerCore

/// Head size limits: a request line over `HTTPServer.maxLineBytes` is 414, a header block over
/// `XPSConfig.Limits().maxHeaderBytes` is 431; both close the connection and leave the server serving.
final class LimitsTests: ServerTestCase {
    var server: TestServer!

    override func setUpWithError() throws {
        server = try startTester()
    }

    func assertRefused(_ request: String, status: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try exchange(server, request)
        XCTAssertEqual(x.response.status, status, file: file, line: line)
        XCTAssertTrue(x.closed, file: file, line: line)
        assertDefaultHeaders(x.response, file: file, line: line)
        // The server is still fine afterwards.
        XCTAssertEqual(try exchange(server, getRequest("/sample.txt")).response.status, 200, file: file, line: line)
    }

    var longPath: String { "/" + String(repeating: "a", count: HTTPServer.maxLineBytes + 1000) }

    func testLongRequestLineIs414() throws {
        try assertRefused("GET \(longPath) HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 414)
    }

    func testLongRequestLineWithoutItsEndIs414() throws {
        // The line never ends: the server must answer once it is over the limit, not wait for it.
        try assertRefused("GET \(longPath)", status: 414)
    }

    func testLongRequestLineOnKeptAliveConnectionIs414() throws {
        let client = try RawClient(port: server.port)
        try client.send("GET /sample.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        try client.send("GET \(longPath) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let all = client.readAll()
        XCTAssertTrue(all.closed)
        XCTAssertEqual(HTTPResult.parse(all.bytes, complete: true)?.status, 414)
    }

    func testRequestLineJustUnderLimitIsServed() throws {
        let path = "/" + String(repeating: "b", count: HTTPServer.maxLineBytes - 100)
        let r = try exchange(server, getRequest(path)).response
        XCTAssertEqual(r.status, 404)
    }

    func testHugeHeaderBlockIs431() throws {
        let field = String(repeating: "v", count: 1000)
        let count = XPSConfig.Limits().maxHeaderBytes / 1000 + 4
        let headers = (0..<count).map { "X-Filler-\($0): \(field)\r\n" }.joined()
        try assertRefused("GET /sample.txt HTTP/1.1\r\nHost: localhost\r\n\(headers)\r\n", status: 431)
    }

    func testSingleHugeHeaderIs431() throws {
        let value = String(repeating: "v", count: 40_000)  // over the default max_header_bytes (32 KiB)
        try assertRefused("GET /sample.txt HTTP/1.1\r\nHost: localhost\r\nX-Big: \(value)\r\n\r\n", status: 431)
    }

    /// One header line is bounded by max_header_bytes, not by the request line's 8 KiB.
    func testLargeCookieFitsARaisedHeaderLimit() throws {
        let json = """
            { "limits": { "max_header_bytes": 65536 }, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] } ] }
            """
        let s = try startServer(json)
        let cookie = "Cookie: a=" + String(repeating: "c", count: 10_000)
        XCTAssertEqual(try exchange(s, getRequest("/sample.txt", headers: [cookie])).response.status, 200)
    }

    func testLongButAllowedLineWithHugeHeadersIs431() throws {
        let path = "/" + String(repeating: "c", count: HTTPServer.maxLineBytes - 100)
        let field = String(repeating: "v", count: 1000)
        let headers = (0..<(XPSConfig.Limits().maxHeaderBytes / 1000 + 4)).map { "X-Filler-\($0): \(field)\r\n" }.joined()
        try assertRefused("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(headers)\r\n", status: 431)
    }

    func testHeaderBlockUnderLimitIsServed() throws {
        let field = String(repeating: "v", count: 1000)
        let headers = (0..<(XPSConfig.Limits().maxHeaderBytes / 1000 - 4)).map { "X-Filler-\($0): \(field)" }
        let r = try exchange(server, getRequest("/sample.txt", headers: headers)).response
        XCTAssertEqual(r.status, 200)
    }
}
