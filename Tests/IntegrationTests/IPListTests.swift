import XCTest

/// compat 7.5 S1-S3, S5, S6: per-route `ip_whitelist` / `ip_blacklist`, with clients told apart
/// by their 127.0.0.x source address; entries may also be CIDR prefixes.
final class IPListTests: ServerTestCase {
    /// One file_serve route `/` with the given list keys, plus any extra routes.
    func start(rootLists: String = "", extraRoutes: String = "") throws -> TestServer {
        let lists = rootLists.isEmpty ? "" : ", " + rootLists
        return try startServer("""
            { "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "." \(lists) } \(extraRoutes) ] } ] }
            """)
    }

    func status(_ server: TestServer, from source: String, _ path: String = "/sample.txt") throws -> Int {
        let x = try exchange(server, getRequest(path), source: source)
        if x.response.status == 403 {
            XCTAssertTrue(x.response.body.isEmpty)
            XCTAssertTrue(x.closed)
            assertDefaultHeaders(x.response)
        }
        return x.response.status
    }

    func testS1Whitelist() throws {
        let server = try start(rootLists: #""ip_whitelist": ["127.0.0.1"]"#)
        XCTAssertEqual(try status(server, from: "127.0.0.1"), 200)
        XCTAssertEqual(try status(server, from: "127.0.0.2"), 403)
    }

    func testS2Blacklist() throws {
        let server = try start(rootLists: #""ip_blacklist": ["127.0.0.2"]"#)
        XCTAssertEqual(try status(server, from: "127.0.0.1"), 200)
        XCTAssertEqual(try status(server, from: "127.0.0.2"), 403)
        XCTAssertEqual(try status(server, from: "127.0.0.3"), 200)
    }

    func testS3BothLists() throws {
        let server = try start(rootLists: #""ip_whitelist": ["127.0.0.1", "127.0.0.3"], "ip_blacklist": ["127.0.0.3"]"#)
        XCTAssertEqual(try status(server, from: "127.0.0.1"), 200)
        XCTAssertEqual(try status(server, from: "127.0.0.3"), 403)
        XCTAssertEqual(try status(server, from: "127.0.0.2"), 403)
    }

    func testS5WhitelistOnOneRouteOnly() throws {
        let f = try makeFixture()
        try f.write(Data("private".utf8), to: "public/private/p.txt")
        let server = try startServer("""
            { "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "." },
                            { "req_path": "/private", "type": "file_serve", "dir_path": "private",
                              "ip_whitelist": ["127.0.0.1"] } ] } ] }
            """, fixture: f)
        XCTAssertEqual(try status(server, from: "127.0.0.2", "/private/p.txt"), 403)
        XCTAssertEqual(try status(server, from: "127.0.0.2", "/private"), 403)
        XCTAssertEqual(try status(server, from: "127.0.0.2", "/sample.txt"), 200)
        XCTAssertEqual(try status(server, from: "127.0.0.1", "/private/p.txt"), 200)
    }

    func testS6DeniedBeforeNotFound() throws {
        let server = try start(rootLists: #""ip_whitelist": ["127.0.0.1"]"#)
        XCTAssertEqual(try status(server, from: "127.0.0.2", "/no-such-file"), 403)
        XCTAssertEqual(try status(server, from: "127.0.0.1", "/no-such-file"), 404)
    }

    func testDeniedOnRedirectRoute() throws {
        let server = try start(extraRoutes: """
            , { "req_path": "/go", "type": "redirect", "redirect_url": "http://x/", "ip_blacklist": ["127.0.0.2"] }
            """)
        XCTAssertEqual(try status(server, from: "127.0.0.2", "/go"), 403)
        XCTAssertEqual(try status(server, from: "127.0.0.1", "/go"), 302)
    }

    func testCIDRWhitelist() throws {
        // 127.0.0.0/31 holds .0 and .1 only.
        let server = try start(rootLists: #""ip_whitelist": ["127.0.0.0/31"]"#)
        XCTAssertEqual(try status(server, from: "127.0.0.1"), 200)
        XCTAssertEqual(try status(server, from: "127.0.0.2"), 403)
        XCTAssertEqual(try status(server, from: "127.0.0.3"), 403)
    }

    func testCIDRBlacklist() throws {
        // 127.0.0.2/31 holds .2 and .3.
        let server = try start(rootLists: #""ip_blacklist": ["127.0.0.2/31"]"#)
        XCTAssertEqual(try status(server, from: "127.0.0.1"), 200)
        XCTAssertEqual(try status(server, from: "127.0.0.2"), 403)
        XCTAssertEqual(try status(server, from: "127.0.0.3"), 403)
    }

    func testCIDRWhitelistMinusSingleAddress() throws {
        let server = try start(rootLists: #""ip_whitelist": ["127.0.0.0/30"], "ip_blacklist": ["127.0.0.2"]"#)
        XCTAssertEqual(try status(server, from: "127.0.0.1"), 200)
        XCTAssertEqual(try status(server, from: "127.0.0.2"), 403)
        XCTAssertEqual(try status(server, from: "127.0.0.3"), 200)
        XCTAssertEqual(try status(server, from: "127.0.0.5"), 403)
    }
}
