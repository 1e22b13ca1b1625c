import XCTest

@testable import ServerCore

/// Request target → safe, normalised pathname (pure; no filesystem).
final class PathResolverTests: XCTestCase {
    /// Both entry points (a whole target string, a substring) give the same answer.
    func resolve(_ target: String, file: StaticString = #filePath, line: UInt = #line) -> Result<String, PathResolver.Failure> {
        let fromString = PathResolver.pathname(fromTarget: target)
        XCTAssertEqual(fromString, PathResolver.pathname(fromTarget: Substring(target)), target, file: file, line: line)
        return fromString
    }

    func assertPath(_ target: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(resolve(target, file: file, line: line), .success(expected), target, file: file, line: line)
    }

    func assertFailure(_ target: String, _ failure: PathResolver.Failure, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(resolve(target, file: file, line: line), .failure(failure), target, file: file, line: line)
    }

    func testPlainPaths() {
        assertPath("/", "/")
        assertPath("/sample.txt", "/sample.txt")
        assertPath("/test/cat.jpg", "/test/cat.jpg")
    }

    func testAbsoluteForm() {
        assertPath("http://localhost:8001/sample.txt", "/sample.txt")
        assertPath("http://localhost:8001", "/")
        assertPath("HTTP://Example.COM/a/b", "/a/b")
        assertPath("http://localhost?x=1", "/")
        assertPath("http://127.0.0.1:80/x?y", "/x")
        assertPath("http://[::1]:8080/v6", "/v6")
        assertFailure("http:///nohost", .badRequest)
        assertFailure("ht1p://h/x", .badRequest)
        assertFailure("http://bad_host/x", .badRequest)
        assertFailure("localhost/x", .badRequest)
        assertFailure("*", .badRequest)
        assertFailure("", .badRequest)
    }

    func testQueryAndFragmentAreDropped() {
        assertPath("/sample.txt?a=1", "/sample.txt")
        assertPath("/sample.txt#frag", "/sample.txt")
        assertPath("/a?b/../../c", "/a")
        assertPath("/?", "/")
        assertPath("/a=b&c.txt", "/a=b&c.txt")
    }

    func testPercentDecoding() {
        assertPath("/a%20b.txt", "/a b.txt")
        assertPath("/%3Cx%3E.txt", "/<x>.txt")
        assertPath("/caf%C3%A9", "/café")
        assertPath("/%7e%7E", "/~~")
        assertPath("/a%3Fb", "/a?b")
        assertPath("/a%2Fb", "/a/b")
    }

    func testBadEscapes() {
        for target in ["/%", "/%2", "/a%zz", "/%g0", "/a%2", "/%%41"] {
            assertFailure(target, .badRequest)
        }
        assertFailure("/%00", .badRequest)
        assertFailure("/a%00.txt", .badRequest)
    }

    func testDotSegments() {
        assertPath("/a/./b", "/a/b")
        assertPath("/a/b/..", "/a")
        assertPath("/a/b/../", "/a/")
        assertPath("/a/../b", "/b")
        assertPath("/a/..", "/")
        assertPath("/.", "/")
        assertPath("/a/.../b", "/a/.../b")
        assertPath("/..a/b..", "/..a/b..")
    }

    func testClimbingAboveRootIsForbidden() {
        for target in [
            "/..", "/../", "/../app/x", "/a/../../app/x", "/%2e%2e/app/x", "/%2E%2E/app/x", "/..%2fapp/x",
            "/.%2e/x", "/a/b/../../../x", "http://h/../x", "//..//x",
        ] {
            assertFailure(target, .forbidden)
        }
    }

    func testSlashRunsCollapse() {
        assertPath("//", "/")
        assertPath("//sample.pdf", "/sample.pdf")
        assertPath("/a//b///c", "/a/b/c")
        assertPath("/a/%2F/b", "/a/b")
    }

    func testTrailingSlashKept() {
        assertPath("/test/", "/test/")
        assertPath("/test//", "/test/")
        assertPath("/test/.", "/test")
        assertPath("/test/./", "/test/")
    }

    func testRelativeToRoute() {
        XCTAssertEqual(PathResolver.relative("/static/f.txt", toRoute: "/static"), "/f.txt")
        XCTAssertEqual(PathResolver.relative("/static", toRoute: "/static"), "")
        XCTAssertEqual(PathResolver.relative("/static/", toRoute: "/static"), "/")
        XCTAssertEqual(PathResolver.relative("/sample.txt", toRoute: "/"), "/sample.txt")
        XCTAssertEqual(PathResolver.relative("/", toRoute: "/"), "/")
        XCTAssertEqual(PathResolver.relative("/files/a/b", toRoute: "/files/"), "/a/b")
    }

    /// The fast path (a target already in normal form is used as it is) agrees with decoding and
    /// normalising, on every small combination of the tricky pieces.
    func testFastPathAgreesWithTheFullResolution() {
        let pieces = ["/", "a", ".", "..", "b.c", "%2e", "%41", "%00", "%", "...", "/."]
        var targets: [String] = []
        func build(_ prefix: String, _ depth: Int) {
            targets.append(prefix)
            guard depth > 0 else { return }
            for p in pieces { build(prefix + p, depth - 1) }
        }
        build("/", 4)
        for target in targets {
            let bytes = Substring(target).utf8[...]
            let full: Result<String, PathResolver.Failure> = PathResolver.percentDecode(bytes).map { PathResolver.normalise($0) } ?? .failure(.badRequest)
            XCTAssertEqual(PathResolver.pathname(fromTarget: Substring(target)), full, target)
            XCTAssertEqual(PathResolver.pathname(fromTarget: target), full, target)
            XCTAssertEqual(PathResolver.pathname(fromTarget: target + "?q=1"), full, target)
            if PathResolver.isNormal(bytes) { XCTAssertEqual(try? full.get(), target, target) }
        }
    }
}
