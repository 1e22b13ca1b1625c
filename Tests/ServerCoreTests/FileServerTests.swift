import XCTest

@testable import ServerCore

/// FileServer's containment rule and open-file cache, on paths and values.
final class FileServerTests: XCTestCase {
    func testIsInside() {
        XCTAssertTrue(FileServer.isInside("/r/p", root: "/r/p"))
        XCTAssertTrue(FileServer.isInside("/r/p/a", root: "/r/p"))
        XCTAssertFalse(FileServer.isInside("/r/pa", root: "/r/p"))
        XCTAssertFalse(FileServer.isInside("/r", root: "/r/p"))
        XCTAssertTrue(FileServer.isInside("/anything", root: "/"))
    }

    /// NFC `é` (U+00E9) and NFD `e` + U+0301 are different names to the filesystem.
    func testIsInsideComparesBytesNotCanonicalEquivalence() {
        XCTAssertFalse(FileServer.isInside("/r/\u{E9}\u{E9}/a", root: "/r/e\u{301}e\u{301}"))  // trapped before
        XCTAssertFalse(FileServer.isInside("/r/\u{E9}", root: "/r/e\u{301}"))
        XCTAssertFalse(FileServer.isInside("/r/e\u{301}/a", root: "/r/\u{E9}"))
        XCTAssertTrue(FileServer.isInside("/r/e\u{301}/a", root: "/r/e\u{301}"))
    }

    func testCacheKeysAreBytes() {
        let cache = FileCache()
        let info = FileInfo(stat())
        let file = CachedFile(realPath: "/r/\u{E9}", info: info, contentType: "text/plain", etag: "\"1\"", lastModified: "", body: nil)
        cache.store("/r/\u{E9}", file)
        XCTAssertNil(cache.lookup("/r/e\u{301}", current: info))
        XCTAssertEqual(cache.lookup("/r/\u{E9}", current: info)?.realPath, "/r/\u{E9}")
    }
}
