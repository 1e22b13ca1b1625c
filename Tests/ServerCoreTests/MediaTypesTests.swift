import XCTest

@testable import ServerCore

final class MediaTypesTests: XCTestCase {
    /// First-match values from the compat spec §2.6 (eXpServer's table, duplicates resolved by
    /// taking the first entry).
    func testFirstMatchValues() {
        let expected: [(String, String)] = [
            (".html", "text/html"), (".htm", "text/html"), (".css", "text/css"),
            (".js", "text/javascript"), (".json", "application/json"), (".txt", "text/plain"),
            (".text", "text/plain"), (".log", "text/plain"), (".md", "text/markdown"),
            (".csv", "text/csv"), (".xml", "application/rss+xml"),
            (".jpg", "image/jpeg"), (".jpeg", "image/jpeg"), (".jfif", "image/jpeg"),
            (".png", "image/png"), (".gif", "image/gif"), (".svg", "image/svg+xml"),
            (".ico", "image/x-icon"), (".webp", "image/webp"), (".bmp", "image/bmp"),
            (".pdf", "application/pdf"), (".zip", "application/zip"), (".gz", "application/x-gzip"),
            (".tar", "application/x-tar"), (".doc", "application/msword"),
            (".mp3", "audio/mpeg"), (".mp4", "audio/aac"), (".webm", "video/webm"), (".wav", "audio/wav"),
            (".woff", "font/woff"), (".woff2", "font/woff2"), (".ttf", "application/x-font-ttf"),
            (".otf", "application/x-font-otf"), (".wasm", "application/wasm"),
            (".bin", "application/octet-stream"),
            (".c", "text/x-c"), (".h", "text/x-c"), (".cpp", "text/x-c"), (".py", "text/x-python"),
            (".sh", "application/x-shellscript"),
        ]
        for (ext, type) in expected {
            XCTAssertEqual(MediaTypes.type(forExtension: ext), type, ext)
            XCTAssertEqual(MediaTypes.type(forPath: "/dir/file" + ext), type, ext)
        }
    }

    func testTableSize() {
        // 928 pairs, 888 distinct extensions.
        XCTAssertEqual(mediaTypeTable.count, 888)
        XCTAssertTrue(mediaTypeTable.keys.allSatisfy { $0.hasPrefix(".") && $0 == $0.lowercased() })
    }

    func testParserKeepsFirstOccurrence() {
        let table = parseMediaTypeTable(".a x/one\n.b y/two\n.a x/three\n\nbad-line\n")
        XCTAssertEqual(table, [".a": "x/one", ".b": "y/two"])
    }

    func testTesterFiles() {
        XCTAssertEqual(MediaTypes.type(forPath: "/cat.jpg"), "image/jpeg")
        XCTAssertEqual(MediaTypes.type(forPath: "/test/sample.pdf"), "application/pdf")
        XCTAssertEqual(MediaTypes.type(forPath: "/srv/public/sample.txt"), "text/plain")
        XCTAssertEqual(MediaTypes.type(forPath: "/xps_config.json"), "application/json")
        XCTAssertEqual(MediaTypes.type(forPath: "/test/index.html"), "text/html")
    }

    func testCaseFallback() {
        XCTAssertEqual(MediaTypes.type(forPath: "/photos/CAT.JPG"), "image/jpeg")
        XCTAssertEqual(MediaTypes.type(forPath: "/a/Readme.Md"), "text/markdown")
        XCTAssertEqual(MediaTypes.type(forExtension: ".JPG"), "image/jpeg")
        XCTAssertEqual(MediaTypes.type(forExtension: ".Html"), "text/html")
    }

    func testExtensionWithoutDot() {
        XCTAssertEqual(MediaTypes.type(forExtension: "txt"), "text/plain")
        XCTAssertEqual(MediaTypes.type(forExtension: "PDF"), "application/pdf")
    }

    func testUnknownExtension() {
        XCTAssertNil(MediaTypes.type(forExtension: ".nosuchext"))
        XCTAssertNil(MediaTypes.type(forExtension: ""))
        XCTAssertNil(MediaTypes.type(forExtension: "."))
        XCTAssertEqual(MediaTypes.type(forPath: "/file.nosuchext"), MediaTypes.fallback)
        XCTAssertEqual(MediaTypes.fallback, "application/octet-stream")
    }

    func testNoExtension() {
        XCTAssertEqual(MediaTypes.type(forPath: "/README"), "application/octet-stream")
        XCTAssertEqual(MediaTypes.type(forPath: "/"), "application/octet-stream")
        XCTAssertEqual(MediaTypes.type(forPath: ""), "application/octet-stream")
        XCTAssertEqual(MediaTypes.type(forPath: "/file."), "application/octet-stream")
        XCTAssertNil(MediaTypes.fileExtension(ofPath: "/README"))
        XCTAssertNil(MediaTypes.fileExtension(ofPath: "/file."))
        XCTAssertNil(MediaTypes.fileExtension(ofPath: ""))
    }

    func testDotInDirectoryName() {
        XCTAssertNil(MediaTypes.fileExtension(ofPath: "/a.b/file"))
        XCTAssertEqual(MediaTypes.type(forPath: "/a.b/file"), "application/octet-stream")
        XCTAssertEqual(MediaTypes.type(forPath: "/v1.2/docs.txt/"), "application/octet-stream")
        XCTAssertEqual(MediaTypes.type(forPath: "/a.b/file.css"), "text/css")
    }

    func testLastDotWins() {
        XCTAssertEqual(MediaTypes.fileExtension(ofPath: "/x/archive.tar.gz"), ".gz")
        XCTAssertEqual(MediaTypes.type(forPath: "/x/archive.tar.gz"), "application/x-gzip")
        XCTAssertEqual(MediaTypes.type(forPath: "/x/page.min.js"), "text/javascript")
    }

    func testDotfiles() {
        // As in eXpServer: a dotfile's whole name is its extension.
        XCTAssertEqual(MediaTypes.fileExtension(ofPath: "/.bashrc"), ".bashrc")
        XCTAssertEqual(MediaTypes.type(forPath: "/home/.bashrc"), "application/octet-stream")
        XCTAssertEqual(MediaTypes.type(forPath: "/.txt"), "text/plain")
        XCTAssertEqual(MediaTypes.type(forPath: "/dir/.hidden.json"), "application/json")
    }

    func testQueryAlreadyStripped() {
        // The caller strips "?query" before the lookup (this type does not).
        let target = "/sample.txt?a=1"
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        XCTAssertEqual(MediaTypes.fileExtension(ofPath: path), ".txt")
        XCTAssertEqual(MediaTypes.type(forPath: String(path)), "text/plain")
        // Unstripped, the query ends up in the extension and the lookup misses.
        XCTAssertEqual(MediaTypes.type(forPath: target), "application/octet-stream")
    }

    func testHyphenatedExtensions() {
        XCTAssertEqual(MediaTypes.type(forExtension: ".db-wal"), "application/vnd.sqlite3")
        XCTAssertEqual(MediaTypes.type(forExtension: ".jfif-tbnl"), "image/jpeg")
    }
}
