import XCTest

/// How a request path reaches a file: percent-decoding (and the listing's matching encoding and
/// HTML escaping), and `req_path` prefix stripping with eXpServer's boundary rule.
final class RoutePathTests: ServerTestCase {
    func testSpaceInFileNameServedAndLinked() throws {
        let f = try makeFixture()
        try f.write(Data("spaced out".utf8), to: "public/a b.txt")
        let server = try startTester(fixture: f)
        let r = try exchange(server, getRequest("/a%20b.txt")).response
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Content-Type"), "text/plain")
        XCTAssertEqual(r.text, "spaced out")
        let listing = try exchange(server, getRequest("/")).response
        XCTAssertTrue(hrefs(listing.text).contains("/a%20b.txt"), "\(hrefs(listing.text))")
        XCTAssertTrue(listing.text.contains(">a b.txt</a>"))
    }

    func testListingEscapesNames() throws {
        let f = try makeFixture()
        try f.write(Data("tag".utf8), to: "public/<x>.txt")
        try f.write(Data("quote".utf8), to: "public/it's&more.txt")
        let server = try startTester(fixture: f)
        let listing = try exchange(server, getRequest("/")).response.text
        XCTAssertTrue(listing.contains("&lt;x&gt;.txt"))
        XCTAssertFalse(listing.contains("<x>"))
        XCTAssertFalse(listing.contains("it's"))
        XCTAssertTrue(hrefs(listing).contains("/%3Cx%3E.txt"), "\(hrefs(listing))")
        // Every link leads back to its file.
        let tag = try exchange(server, getRequest("/%3Cx%3E.txt")).response
        XCTAssertEqual(tag.text, "tag")
        let quote = try exchange(server, getRequest("/it%27s%26more.txt")).response
        XCTAssertEqual(quote.text, "quote")
    }

    func testListingTitleEscapesThePath() throws {
        let f = try makeFixture()
        try f.write(Data("x".utf8), to: "public/<d>/f.txt")
        let server = try startTester(fixture: f)
        let listing = try exchange(server, getRequest("/%3Cd%3E")).response
        XCTAssertEqual(listing.status, 200)
        XCTAssertTrue(listing.text.contains("Index of&nbsp;/&lt;d&gt;"))
        XCTAssertTrue(hrefs(listing.text).contains("/%3Cd%3E/f.txt"), "\(hrefs(listing.text))")
    }

    func testMalformedEscapeIs400() throws {
        let server = try startTester()
        for path in ["/a%2", "/a%zz.txt", "/%"] {
            XCTAssertEqual(try exchange(server, getRequest(path)).response.status, 400, path)
        }
    }

    func prefixServer() throws -> TestServer {
        let f = try makeFixture()
        try f.write(Data("from sub".utf8), to: "public/sub/f.txt")
        try f.write(Data("nested".utf8), to: "public/sub/deeper/g.txt")
        // What `/staticx` would map to if the route ignored the boundary rule (root + "x").
        try f.write(Data("wrong".utf8), to: "public/subx")
        return try startServer("""
            { "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                "routes": [ { "req_path": "/static", "type": "file_serve", "dir_path": "sub" } ] } ] }
            """, fixture: f)
    }

    func testPrefixIsStripped() throws {
        let server = try prefixServer()
        XCTAssertEqual(try exchange(server, getRequest("/static/f.txt")).response.text, "from sub")
        XCTAssertEqual(try exchange(server, getRequest("/static/deeper/g.txt")).response.text, "nested")
        XCTAssertEqual(try exchange(server, getRequest("//static//f.txt")).response.text, "from sub")
    }

    func testPrefixRootListsTheDirectory() throws {
        let server = try prefixServer()
        for path in ["/static", "/static/"] {
            let r = try exchange(server, getRequest(path)).response
            XCTAssertEqual(r.status, 200, path)
            XCTAssertEqual(r.header("Content-Type"), "text/html")
            XCTAssertTrue(hrefs(r.text).contains("/static/f.txt"), "\(hrefs(r.text))")
            XCTAssertTrue(hrefs(r.text).contains("/static/deeper"), "\(hrefs(r.text))")
        }
    }

    func testPrefixBoundary() throws {
        let server = try prefixServer()
        for path in ["/staticx", "/staticx/f.txt", "/stat", "/", "/f.txt"] {
            let r = try exchange(server, getRequest(path)).response
            XCTAssertEqual(r.status, 404, path)
            XCTAssertTrue(r.body.isEmpty, path)
        }
    }
}
