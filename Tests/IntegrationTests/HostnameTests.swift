import ServerCore
import XCTest

/// Virtual hosts on one listener: chosen by Host (exact, without `:port`, any case); an
/// unknown Host is 404 unless a catch-all server (no `hostnames`) follows.
final class HostnameTests: ServerTestCase {
    func makeSites() throws -> Fixture {
        let f = try makeFixture()
        try f.write(Data("site A".utf8), to: "public/a/who.txt")
        try f.write(Data("site B".utf8), to: "public/b/who.txt")
        try f.write(Data("fallback".utf8), to: "public/c/who.txt")
        return f
    }

    func config(catchAll: Bool) -> String {
        let fallback = catchAll ? """
            , { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                "routes": [{ "req_path": "/", "type": "file_serve", "dir_path": "c" }] }
            """ : ""
        return """
            { "servers": [
                { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }], "hostnames": ["a.example", "alias.example"],
                  "routes": [{ "req_path": "/", "type": "file_serve", "dir_path": "a" }] },
                { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }], "hostnames": ["b.example"],
                  "routes": [{ "req_path": "/", "type": "file_serve", "dir_path": "b" }] }
                \(fallback)
            ] }
            """
    }

    func who(_ server: TestServer, host: String) throws -> HTTPResult {
        try exchange(server, getRequest("/who.txt", host: host)).response
    }

    func testHostSelectsServer() throws {
        let server = try startServer(config(catchAll: false), fixture: try makeSites())
        XCTAssertEqual(try who(server, host: "a.example").text, "site A")
        XCTAssertEqual(try who(server, host: "alias.example").text, "site A")
        XCTAssertEqual(try who(server, host: "b.example").text, "site B")
    }

    func testHostWithPortAndOtherCase() throws {
        let server = try startServer(config(catchAll: false), fixture: try makeSites())
        XCTAssertEqual(try who(server, host: "b.example:\(server.port)").text, "site B")
        XCTAssertEqual(try who(server, host: "B.Example").text, "site B")
        XCTAssertEqual(try who(server, host: "A.EXAMPLE:8001").text, "site A")
    }

    func testUnknownHostIs404WithoutCatchAll() throws {
        let server = try startServer(config(catchAll: false), fixture: try makeSites())
        for host in ["c.example", "a.example.org", "example", "localhost"] {
            let x = try exchange(server, getRequest("/who.txt", host: host))
            XCTAssertEqual(x.response.status, 404, host)
            assertDefaultHeaders(x.response)
        }
    }

    func testUnknownHostGoesToCatchAll() throws {
        let server = try startServer(config(catchAll: true), fixture: try makeSites())
        XCTAssertEqual(try who(server, host: "c.example").text, "fallback")
        XCTAssertEqual(try who(server, host: "a.example").text, "site A")
    }

    /// The server is picked by Host (as eXpServer), so an absolute-form target must name the same
    /// authority: otherwise a proxied request would reach the upstream's site for the target's
    /// authority past the lists of the server its Host picked (RFC 9112 §3.2).
    func testAbsoluteFormTargetMustAgreeWithHost() throws {
        let server = try startServer(config(catchAll: true), fixture: try makeSites())
        XCTAssertEqual(try exchange(server, getRequest("http://b.example/who.txt", host: "b.example")).response.text, "site B")
        XCTAssertEqual(try exchange(server, getRequest("http://B.example:80/who.txt", host: "b.EXAMPLE")).response.text, "site B")
        for (target, host) in [
            ("http://b.example/who.txt", "a.example"), ("http://b.example/who.txt", "c.example"),
            ("http://b.example:8080/who.txt", "b.example"), ("http://b.example/who.txt", "b.example:8080"),
        ] {
            let x = try exchange(server, getRequest(target, host: host))
            XCTAssertEqual(x.response.status, 400, "\(target) with Host \(host)")
        }
        let noHost = try exchange(server, "GET http://a.example/who.txt HTTP/1.0\r\nAccept: */*\r\n\r\n").response
        XCTAssertEqual(noHost.status, 400)
    }

    func testSameListenerIsBoundOnce() throws {
        let server = try startServer(config(catchAll: true), fixture: try makeSites())
        XCTAssertEqual(server.server.state.current.config.listeners.count, 1)
        XCTAssertEqual(server.server.localAddresses.count, 1)
    }
}
