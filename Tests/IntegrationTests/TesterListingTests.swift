import XCTest

/// compat 7.4: the tester's stage 17 directory-browsing cases (D1-D9) on the tester's config.
final class TesterListingTests: ServerTestCase {
    var server: TestServer!
    var fixture: Fixture { server.fixture }

    override func setUpWithError() throws {
        server = try startTester()
    }

    func get(_ path: String) throws -> HTTPResult {
        let x = try exchange(server, getRequest(path))
        XCTAssertTrue(x.headInFirstChunk, path)
        assertDefaultHeaders(x.response)
        return x.response
    }

    func testD1DoubleSlashRoot() throws {
        let r = try get("//")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Content-Type"), "text/html")
    }

    func testD2RootListingHrefs() throws {
        let r = try get("/")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Content-Type"), "text/html")
        let links = Set(hrefs(r.text))
        for expected in ["/cat.jpg", "/sample.pdf", "/sample.txt", "/xps_config.json", "/test"] {
            XCTAssertTrue(links.contains(expected), "missing \(expected) in \(links)")
        }
    }

    func testD3DoubleSlashFile() throws {
        let r = try get("//sample.pdf")
        assertFile(r, type: "application/pdf", bytes: fixture.bytes("public/sample.pdf"))
    }

    func testD4AndD5SubdirectoryWithAndWithoutSlash() throws {
        for path in ["/test", "/test/"] {
            let r = try get(path)
            XCTAssertEqual(r.status, 200, path)
            XCTAssertNil(r.header("Location"), path)
            XCTAssertEqual(r.header("Content-Type"), "text/html", path)
            let links = Set(hrefs(r.text))
            for expected in ["/test/cat.jpg", "/test/sample.pdf", "/test/sample.txt"] {
                XCTAssertTrue(links.contains(expected), "\(path): missing \(expected) in \(links)")
            }
        }
    }

    func testD6WalkEveryHref() throws {
        let types = [".jpg": "image/jpeg", ".pdf": "application/pdf", ".txt": "text/plain", ".json": "application/json"]
        var walked = 0
        for dir in ["/", "/test"] {
            for href in hrefs(try get(dir).text) {
                let r = try get(href)
                XCTAssertEqual(r.status, 200, href)
                let ext = href.range(of: ".", options: .backwards).map { String(href[$0.lowerBound...]) }
                XCTAssertEqual(r.header("Content-Type"), ext.flatMap { types[$0] } ?? "text/html", href)
                if let ext, types[ext] != nil {
                    XCTAssertTrue(r.body == fixture.bytes("public" + href), href)
                }
                walked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(walked, 8)
    }

    func testD7ListingBody() throws {
        let r = try get("/test")
        XCTAssertTrue(r.text.contains("<h1>eXpServer</h1>"))
        XCTAssertTrue(r.text.contains("Index of&nbsp;/test"))
        let root = try get("/").text
        XCTAssertTrue(root.contains("<a href='/test'>test/</a>"), "directory link text ends in / but its href does not")
    }

    func testD8IndexFileServedForDirectory() throws {
        let html = "<html><body>index of test</body></html>"
        try fixture.write(Data(html.utf8), to: "public/test/index.html")
        for path in ["/test", "/test/"] {
            let r = try get(path)
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.header("Content-Type"), "text/html")
            XCTAssertEqual(r.text, html)
        }
    }

    func testD9TraversalToAppDirectory() throws {
        let secret = "secret app file"
        try fixture.write(Data(secret.utf8), to: "app/x")
        let x = try exchange(server, getRequest("/../app/x"))
        XCTAssertTrue([403, 404].contains(x.response.status), "status \(x.response.status)")
        XCTAssertFalse(x.response.text.contains(secret))
        assertDefaultHeaders(x.response)
    }
}

/// compat 7.3 C4-C7: the tester's redirect routes (port 8003 of the tester config is port 1).
final class TesterRedirectTests: ServerTestCase {
    var server: TestServer!

    override func setUpWithError() throws {
        server = try startTester()
    }

    func testC4RedirectRoute() throws {
        let x = try exchange(server, getRequest("/redirect"))
        XCTAssertEqual(x.response.status, 302)
        XCTAssertEqual(x.response.header("Location"), "http://localhost:8002/")
        XCTAssertTrue(x.response.body.isEmpty)
        assertDefaultHeaders(x.response)
    }

    func testC5RedirectBelowPrefix() throws {
        let r = try exchange(server, getRequest("/redirect/abc")).response
        XCTAssertEqual(r.status, 302)
        XCTAssertEqual(r.header("Location"), "http://localhost:8002/")
    }

    func testC6PrefixBoundary() throws {
        let r = try exchange(server, getRequest("/redirectx")).response
        XCTAssertEqual(r.status, 404)
        XCTAssertNil(r.header("Location"))
    }

    func testC7RedirectServer() throws {
        for path in ["/", "/anything", "/a/b?c=d"] {
            let r = try exchange(server, getRequest(path), port: server.ports[1]).response
            XCTAssertEqual(r.status, 302, path)
            XCTAssertEqual(r.header("Location"), "https://expserver.github.io", path)
        }
    }
}
