import XCTest

/// No byte outside a route's root is reachable: `..` in every spelling, encoded slashes, NUL,
/// and symlinks (of files and directories) that leave the root. ROOT/app/x is the secret.
final class PathTraversalTests: ServerTestCase {
    static let secret = "TOP SECRET: outside the public root"
    var server: TestServer!
    var fixture: Fixture { server.fixture }

    override func setUpWithError() throws {
        let f = try makeFixture()
        try f.write(Data(Self.secret.utf8), to: "app/x")
        try f.write(Data(Self.secret.utf8), to: "app/index.html")
        try f.write(Data("inside".utf8), to: "public/a/inner.txt")
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: f.publicDir.path + "/escape.txt", withDestinationPath: f.appDir.path + "/x")
        try fm.createSymbolicLink(atPath: f.publicDir.path + "/escape-rel.txt", withDestinationPath: "../app/x")
        try fm.createSymbolicLink(atPath: f.publicDir.path + "/outdir", withDestinationPath: f.appDir.path)
        try fm.createSymbolicLink(atPath: f.publicDir.path + "/alias.txt", withDestinationPath: "sample.txt")
        try fm.createSymbolicLink(atPath: f.publicDir.path + "/testlink", withDestinationPath: f.publicDir.path + "/test")
        server = try startTester(fixture: f)
    }

    func assertRefused(_ path: String, allowed: Set<Int> = [403, 404], file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try exchange(server, getRequest(path))
        XCTAssertTrue(allowed.contains(x.response.status), "\(path) → \(x.response.status)", file: file, line: line)
        XCTAssertFalse(x.response.text.contains("SECRET"), "\(path) leaked the file", file: file, line: line)
        assertDefaultHeaders(x.response, file: file, line: line)
    }

    func testDotDotInEverySpelling() throws {
        for path in [
            "/../app/x", "/%2e%2e/app/x", "/%2E%2E/app/x", "/..%2fapp/x", "/..%2Fapp/x", "/%2e%2e%2fapp%2fx",
            "/a/../../app/x", "/a/%2e%2e/%2e%2e/app/x", "/./../app/x", "/test/../../app/x", "/..", "/../",
        ] {
            try assertRefused(path)
        }
    }

    func testAbsoluteFormCannotClimbEither() throws {
        try assertRefused("http://localhost/../app/x")
    }

    func testEncodedNULIs400() throws {
        try assertRefused("/sample.txt%00.jpg", allowed: [400])
        try assertRefused("/%00", allowed: [400])
    }

    func testDotDotThatStaysInsideWorks() throws {
        let r = try exchange(server, getRequest("/a/../sample.txt")).response
        assertFile(r, type: "text/plain", bytes: fixture.bytes("public/sample.txt"))
        let encoded = try exchange(server, getRequest("/test/%2e%2e/a/inner.txt")).response
        XCTAssertEqual(encoded.status, 200)
        XCTAssertEqual(encoded.text, "inside")
    }

    func testSymlinkToFileOutsideRootIs403() throws {
        for path in ["/escape.txt", "/escape-rel.txt"] {
            try assertRefused(path, allowed: [403])
        }
    }

    func testSymlinkedDirectoryLeavingRootIs403() throws {
        // A file inside it, the directory itself (its index.html lies outside), and with a slash.
        for path in ["/outdir/x", "/outdir", "/outdir/", "/outdir/index.html"] {
            try assertRefused(path, allowed: [403])
        }
    }

    func testSymlinksInsideRootWork() throws {
        let r = try exchange(server, getRequest("/alias.txt")).response
        assertFile(r, type: "text/plain", bytes: fixture.bytes("public/sample.txt"))
        let dir = try exchange(server, getRequest("/testlink/sample.pdf")).response
        assertFile(dir, type: "application/pdf", bytes: fixture.bytes("public/sample.pdf"))
        let listing = try exchange(server, getRequest("/testlink")).response
        XCTAssertEqual(listing.status, 200)
        XCTAssertTrue(hrefs(listing.text).contains("/testlink/cat.jpg"))
    }

    func testCachedFileIsCheckedAgainstEachRoutesRoot() throws {
        // /a serves ROOT/r, /b serves ROOT/r/sub; r/sub/link -> ../secret.txt is inside /a's root
        // only. Once /a has it cached, /b must still refuse it.
        let f = try makeFixture()
        try f.write(Data(Self.secret.utf8), to: "r/secret.txt")
        try FileManager.default.createDirectory(atPath: f.root.path + "/r/sub", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: f.root.path + "/r/sub/link", withDestinationPath: "../secret.txt")
        let s = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }], "routes": [
              { "req_path": "/a", "type": "file_serve", "dir_path": "../r", "ip_whitelist": ["127.0.0.1"] },
              { "req_path": "/b", "type": "file_serve", "dir_path": "../r/sub" } ] } ] }
            """, fixture: f)
        XCTAssertEqual(try exchange(s, getRequest("/b/link")).response.status, 403)
        XCTAssertEqual(try exchange(s, getRequest("/a/sub/link")).response.text, Self.secret)
        let again = try exchange(s, getRequest("/b/link")).response
        XCTAssertEqual(again.status, 403)
        XCTAssertFalse(again.text.contains("SECRET"))
    }

    func testNamesDifferingOnlyInNormalisationAreDifferentDirectories() throws {
        // The root is u/éé spelt NFD; its sibling u/éé spelt NFC is outside it. Links inside the
        // root lead to the sibling and a file in it (the file once crashed the daemon).
        let f = try makeFixture()
        let nfd = "e\u{301}e\u{301}", nfc = "\u{E9}\u{E9}"
        try f.write(Data(Self.secret.utf8), to: "u/\(nfc)/a")
        try f.write(Data("inside".utf8), to: "u/\(nfd)/in.txt")
        let root = f.root.path + "/u/" + nfd
        try FileManager.default.createSymbolicLink(atPath: root + "/crash", withDestinationPath: "../\(nfc)/a")
        try FileManager.default.createSymbolicLink(atPath: root + "/dirleak", withDestinationPath: "../\(nfc)")
        let s = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }], "routes": [
              { "req_path": "/", "type": "file_serve", "dir_path": "../u/\(nfd)" } ] } ] }
            """, fixture: f)
        XCTAssertEqual(try exchange(s, getRequest("/in.txt")).response.text, "inside")
        for path in ["/dirleak", "/dirleak/a", "/crash"] {
            let r = try exchange(s, getRequest(path)).response
            XCTAssertEqual(r.status, 403, path)
            XCTAssertFalse(r.text.contains("SECRET") || r.text.contains("href"), path)
        }
    }

    func testListingOfRootDoesNotFollowEscapesIntoContents() throws {
        // The listing may name the links, but following them must still be refused.
        let listing = try exchange(server, getRequest("/")).response
        XCTAssertEqual(listing.status, 200)
        XCTAssertFalse(listing.text.contains("SECRET"))
    }
}
