import Foundation
import NIOCore
import NIOHTTP1
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

    /// List-valued fields given on several lines are one list (RFC 9110 §5.3); others are the first line.
    func testListValuedFieldsJoinTheirLines() {
        let headers = HTTPHeaders([
            ("Accept-Encoding", "br"), ("cache-control", "max-age=0"), ("If-None-Match", "\"a\""), ("Accept-Encoding", "gzip"),
            ("Cache-Control", "no-transform"), ("if-none-match", "\"b\""), ("If-Match", "\"c\""), ("Range", "bytes=0-1"),
            ("Range", "bytes=2-3"),
        ])
        let r = FileRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: headers))
        XCTAssertEqual(r.acceptEncoding, "br, gzip")
        XCTAssertEqual(r.cacheControl, "max-age=0, no-transform")
        XCTAssertEqual(r.ifNoneMatch, "\"a\", \"b\"")
        XCTAssertEqual(r.ifMatch, "\"c\"")
        XCTAssertEqual(r.range, "bytes=0-1", "not a list")
        XCTAssertNil(r.ifRange)
    }

    func testCacheKeysAreBytes() {
        let cache = FileCache()
        let info = FileInfo(stat())
        let file = CachedFile(realPath: "/r/\u{E9}", info: info, contentType: "text/plain", etag: "\"1\"", lastModified: "", body: nil)
        cache.store("/r/\u{E9}", file)
        XCTAssertNil(cache.lookup("/r/e\u{301}", current: info))
        XCTAssertEqual(cache.lookup("/r/\u{E9}", current: info)?.realPath, "/r/\u{E9}")
    }

    // MARK: a file replaced between its stat and its open

    /// A fresh directory (its real path), removed after the test.
    func makeRoot() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fileserver-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return try XCTUnwrap(FileServer.realPath(dir))
    }

    /// Writes `count` bytes of `byte` beside `path` and renames them over it, as deploys do.
    func replace(_ path: String, byte: UInt8, count: Int) throws {
        try Data(repeating: byte, count: count).write(to: URL(fileURLWithPath: path + ".new"))
        chmod(path + ".new", 0o644)
        XCTAssertEqual(rename(path + ".new", path), 0)
    }

    /// The ETag a response announces and the bytes it would send.
    func sent(_ r: Response) throws -> (etag: String?, bytes: [UInt8]) {
        let lines = String(buffer: r.encodedHeaders ?? ByteBuffer()).components(separatedBy: "\r\n")
        let etag = lines.first { $0.hasPrefix("ETag: ") }.map { String($0.dropFirst(6)) }
        switch r.body {
        case .buffer(let b):
            return (etag, Array(b.readableBytesView))
        case .file(let fd, let offset, let count):
            defer { close(fd) }
            var bytes = [UInt8](repeating: 0, count: count)
            XCTAssertEqual(bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }, count)
            return (etag, bytes)
        default:
            throw NoBody()
        }
    }

    struct NoBody: Error {}

    /// `info` is the stat taken before the replacement; what is served must be all B.
    func assertServesReplacement(sizeA: Int, sizeB: Int, warmCache: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let root = try makeRoot()
        let path = root + "/f.txt"
        try replace(path, byte: UInt8(ascii: "A"), count: sizeA)
        let server = FileServer()
        let request = FileRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/f.txt"))
        if warmCache { _ = try sent(server.serveFile(path, info: try FileInfo.of(path).get(), root: root, request: request)) }
        let stale = try FileInfo.of(path).get()
        try replace(path, byte: UInt8(ascii: "B"), count: sizeB)
        let b = try FileInfo.of(path).get()
        let r = try sent(server.serveFile(path, info: stale, root: root, request: request))
        XCTAssertEqual(r.etag, b.etag, file: file, line: line)
        XCTAssertEqual(r.bytes.count, sizeB, file: file, line: line)
        XCTAssertTrue(r.bytes.allSatisfy { $0 == UInt8(ascii: "B") }, "not all of B", file: file, line: line)
    }

    func testFileSentWithSendfileIsTheOneTheHeadersDescribe() throws {
        try assertServesReplacement(sizeA: 300 << 10, sizeB: 400 << 10, warmCache: true)
    }

    func testFileReadIntoTheCacheIsTheOneTheHeadersDescribe() throws {
        try assertServesReplacement(sizeA: 1000, sizeB: 2000, warmCache: false)
    }
}
