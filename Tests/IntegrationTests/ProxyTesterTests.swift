import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// The official tester's proxy checks (compat 4.5, 7.3 C8-C11) against `python3 -m http.server`:
/// the same request directly and through the proxy must give the same status and body, and every
/// header of the direct response must be in the proxied one with an identical value (fetch joins
/// duplicates, so a second Server or Date fails too). The client sends what fetch sends,
/// keep-alive included.
final class ProxyTesterTests: ProxyTestCase {
    var upstream: PythonHTTPServer!
    var server: TestServer!
    var fixture: Fixture!

    override func setUpWithError() throws {
        try super.setUpWithError()
        fixture = try makeFixture()
        upstream = try python(directory: fixture.publicDir.path)
        // As the tester's config: the upstream named by "localhost".
        server = try startServer(proxyConfig(["\"localhost:\(upstream.port)\""]), fixture: fixture)
    }

    /// A fetch-like GET (keep-alive, `Accept-Encoding: gzip, deflate`) on a new connection.
    func fetch(_ path: String, port: Int) throws -> HTTPResult {
        let client = try FramedClient(port: port)
        try client.send("GET \(path) HTTP/1.1\r\nHost: localhost:\(port)\r\nUser-Agent: node\r\nAccept: */*\r\n"
            + "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n")
        return try client.readResponse().response
    }

    /// Fetches `path` directly and through the proxy; retries (a few times) only when the two
    /// answers fall into different seconds, so their Date headers can be compared exactly.
    func pair(_ path: String) throws -> (direct: HTTPResult, proxied: HTTPResult) {
        var last: (HTTPResult, HTTPResult)!
        for _ in 0..<5 {
            let direct = try fetch(path, port: upstream.port)
            let proxied = try fetch(path, port: server.port)
            last = (direct, proxied)
            if direct.header("Date") == proxied.header("Date") { break }
        }
        return last
    }

    func assertRelayed(_ path: String, status: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let (direct, proxied) = try pair(path)
        XCTAssertEqual(direct.status, status, file: file, line: line)
        XCTAssertEqual(proxied.status, direct.status, file: file, line: line)
        XCTAssertTrue(proxied.body == direct.body, "bodies differ (\(proxied.body.count) vs \(direct.body.count) bytes)", file: file, line: line)
        XCTAssertFalse(direct.headers.isEmpty, file: file, line: line)
        for (name, value) in direct.headers {
            XCTAssertEqual(proxied.headers(name), [value], "header \(name)", file: file, line: line)
        }
        XCTAssertTrue(proxied.header("Server")?.hasPrefix("SimpleHTTP/") == true, "the upstream's Server", file: file, line: line)
    }

    func testC8FileThroughTheProxyHasTheDirectHeadersAndBody() throws {
        try assertRelayed("/cat.jpg", status: 200)
        let proxied = try fetch("/cat.jpg", port: server.port)
        XCTAssertTrue(proxied.body == fixture.bytes("public/cat.jpg"))
        XCTAssertNil(proxied.header("Content-Encoding"), "relayed as the upstream sent it")
    }

    func testC9ListingIsRelayed() throws {
        try assertRelayed("/", status: 200)
    }

    func testC10NotFoundIsRelayed() throws {
        try assertRelayed("/nope", status: 404)
    }

    func testC11StoppedUpstreamGives502AndTheServerStaysUp() throws {
        XCTAssertEqual(try fetch("/sample.txt", port: server.port).status, 200)
        upstream.stop()
        for _ in 0..<3 {
            let r = try fetch("/", port: server.port)
            XCTAssertEqual(r.status, 502)
            XCTAssertEqual(r.headers("Server"), ["eXpServer"])
        }
        XCTAssertEqual(try server.get("/sample.txt").status, 502, "still answering")
    }
}
