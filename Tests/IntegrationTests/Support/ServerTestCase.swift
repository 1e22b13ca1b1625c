import XCTest
@testable import ServerCore
import TestSupport

/// One raw request on a fresh connection, read the way the tester reads it: the first `recv`
/// chunk (which must hold the whole header block), then everything until the server closes.
struct Exchange {
    var firstChunk: [UInt8]
    var response: HTTPResult
    /// The server closed the connection (rather than the read timing out).
    var closed: Bool

    var headInFirstChunk: Bool { HTTPResult.find(firstChunk, [13, 10, 13, 10]) != nil }
}

/// Base class for integration tests: owns the fixtures and servers a test starts and stops
/// them in `tearDown`, and has the assertions every raw-socket case shares.
class ServerTestCase: XCTestCase {
    private var servers: [TestServer] = []
    private var fixtures: [Fixture] = []

    override func tearDown() {
        for s in servers { s.stop() }
        for f in fixtures { f.remove() }
        servers = []
        fixtures = []
        super.tearDown()
    }

    func makeFixture() throws -> Fixture {
        let f = try Fixture()
        fixtures.append(f)
        return f
    }

    /// Starts a server from `json` (with `$PORT0`...) on a fixture (a fresh one by default).
    func startServer(_ json: String, fixture: Fixture? = nil, ports: Int = 1) throws -> TestServer {
        let s = try TestServer(fixture: try fixture ?? makeFixture(), configJSON: json, portCount: ports)
        servers.append(s)
        return s
    }

    /// The tester's config (8001 → port 0, 8003 → port 1).
    func startTester(fixture: Fixture? = nil, extraRoute: String = "") throws -> TestServer {
        let s = try TestServer.tester(try fixture ?? makeFixture(), extraRoute: extraRoute)
        servers.append(s)
        return s
    }

    /// Sends `request` on a new connection; reads the first chunk, then until close.
    func exchange(_ server: TestServer, _ request: String, port: Int? = nil, source: String? = nil) throws -> Exchange {
        let client = try RawClient(port: port ?? server.port, source: source)
        try client.send(request)
        guard let first = client.readChunk() else { throw TestError("no response to \(request.debugDescription)") }
        let rest = client.readAll()
        guard let r = HTTPResult.parse(first + rest.bytes, complete: true) else {
            throw TestError("unparsable response: \(String(decoding: first, as: UTF8.self).prefix(200))")
        }
        return Exchange(firstChunk: first, response: r, closed: rest.closed)
    }

    /// The default headers of every generated response (compat 2.5 / P15).
    func assertDefaultHeaders(_ r: HTTPResult, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(r.statusLine.hasPrefix("HTTP/1.1 "), r.statusLine, file: file, line: line)
        XCTAssertEqual(r.headers("Server"), ["eXpServer"], file: file, line: line)
        XCTAssertEqual(r.headers("Access-Control-Allow-Origin"), ["*"], file: file, line: line)
        let date = r.header("Date")
        XCTAssertNotNil(date.flatMap(HTTPDate.parse), "Date: \(date ?? "missing")", file: file, line: line)
    }

    /// A 200 file response with the exact Content-Type and the fixture file's bytes.
    func assertFile(
        _ r: HTTPResult, type: String, bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(r.status, 200, file: file, line: line)
        XCTAssertEqual(r.header("Content-Type"), type, file: file, line: line)
        XCTAssertEqual(r.header("Content-Length"), String(bytes.count), file: file, line: line)
        XCTAssertNil(r.header("Content-Encoding"), file: file, line: line)
        XCTAssertTrue(r.body == bytes, "body differs (\(r.body.count) vs \(bytes.count) bytes)", file: file, line: line)
    }

    /// The `href` values of the listing's links, in order.
    func hrefs(_ html: String) -> [String] {
        html.components(separatedBy: "href='").dropFirst().compactMap { $0.split(separator: "'").first.map(String.init) }
    }

    /// A GET with HTTP/1.1, the given Host and `Connection: close`.
    func getRequest(_ path: String, host: String = "localhost", headers: [String] = []) -> String {
        "GET \(path) HTTP/1.1\r\nHost: \(host)\r\n" + headers.map { $0 + "\r\n" }.joined() + "Connection: close\r\n\r\n"
    }
}
