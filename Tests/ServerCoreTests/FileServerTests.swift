import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
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

    // MARK: a symlink swapped in between the containment check and the open

    /// `root/dir` is flipped back and forth (renamed over, as `ln -sfn` does) between a link to a
    /// directory inside the root and one to a directory outside it, while the same file is
    /// requested through it: no answer may carry the outside file's bytes. With the check made on
    /// the path before the open (`realpath`, then `open`), some of them did.
    func assertNeverServesOutside(size: Int, cachedUpTo: Int = 256 << 10, file: StaticString = #filePath, line: UInt = #line) throws {
        let root = try makeRoot(), outside = try makeRoot()
        try FileManager.default.createDirectory(atPath: root + "/inner", withIntermediateDirectories: true)
        try Data(repeating: UInt8(ascii: "I"), count: size).write(to: URL(fileURLWithPath: root + "/inner/f.txt"))
        try Data(repeating: UInt8(ascii: "O"), count: size).write(to: URL(fileURLWithPath: outside + "/f.txt"))
        chmod(root + "/inner/f.txt", 0o644)
        chmod(outside + "/f.txt", 0o644)
        XCTAssertEqual(symlink(root + "/inner", root + "/in.link"), 0)
        XCTAssertEqual(symlink(outside, root + "/out.link"), 0)
        XCTAssertEqual(symlink(root + "/inner", root + "/dir"), 0)
        let stop = Atomic<Bool>(false)
        let flipper = Thread {
            var flips = 0
            while !stop.load(ordering: .relaxed) && flips < 2_000_000 {  // (bounded)
                // Hard links of the two links, renamed over `dir` in turn: each rename is atomic.
                let from = flips % 2 == 0 ? "/out.link" : "/in.link"
                _ = link(root + from, root + "/next")
                _ = rename(root + "/next", root + "/dir")
                flips += 1
            }
        }
        flipper.start()
        defer {
            stop.store(true, ordering: .relaxed)
            while flipper.isExecuting { usleep(1000) }
        }
        let server = FileServer(cache: FileCache(maxFileBytes: cachedUpTo))
        let path = root + "/dir/f.txt"
        let request = FileRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/dir/f.txt"))
        var served = 0, refused = 0
        for _ in 0..<10_000 {
            guard case .success(let info) = FileInfo.of(path) else { continue }
            let r = server.serveFile(path, info: info, root: root, request: request)
            guard r.status == .ok else {
                refused += 1
                continue
            }
            let bytes = try sent(r).bytes
            XCTAssertFalse(bytes.contains(UInt8(ascii: "O")), "a file outside the root was served", file: file, line: line)
            if bytes.contains(UInt8(ascii: "O")) { return }
            served += 1
        }
        XCTAssertGreaterThan(served, 0, "nothing was served through the link inside", file: file, line: line)
        XCTAssertGreaterThan(refused, 0, "the link outside was never met", file: file, line: line)
    }

    func testSwappedSymlinkNeverLeadsOutOfTheRootForACachedFile() throws {
        try assertNeverServesOutside(size: 100)
    }

    func testSwappedSymlinkNeverLeadsOutOfTheRootForASentFile() throws {
        try assertNeverServesOutside(size: 4096, cachedUpTo: 1024)  // (sent from an open file)
    }

    /// A FIFO found where a file was (swapped in after the stat): refused as not a file, without
    /// waiting in `open` for a writer.
    func testAFIFOInPlaceOfAFileIsRefusedWithoutBlocking() throws {
        let root = try makeRoot()
        let path = root + "/f.txt"
        XCTAssertEqual(mkfifo(path, 0o644), 0)
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<(info: FileInfo, body: ByteBuffer?, real: String), HTTPError>?>(nil)
        Thread {
            let r = FileServer.readWhole(path, root: root, limit: 1 << 20)
            result.withLock { $0 = r }
            done.signal()
        }.start()
        if done.wait(timeout: .now() + 10) == .timedOut {
            XCTFail("blocked opening a FIFO")
            let writer = open(path, O_WRONLY | O_NONBLOCK)  // lets the blocked open return
            if writer >= 0 { close(writer) }
            _ = done.wait(timeout: .now() + 10)
            return
        }
        guard case .failure(let e) = try XCTUnwrap(result.withLock { $0 }) else { return XCTFail("a FIFO was read as a file") }
        XCTAssertEqual(e, .notFound)
    }

    /// A directory checked for listing, then replaced by a symlink to one outside the root before
    /// it is read: refused, its names not listed.
    func testADirectorySwappedForALinkOutsideIsNotListed() throws {
        let root = try makeRoot(), outside = try makeRoot()
        try FileManager.default.createDirectory(atPath: root + "/d", withIntermediateDirectories: true)
        try Data("a".utf8).write(to: URL(fileURLWithPath: root + "/d/inside.txt"))
        try Data("b".utf8).write(to: URL(fileURLWithPath: outside + "/secret.txt"))
        // Symlinks: one to a file inside the root is listed as its target; one leading out is not.
        XCTAssertEqual(symlink(root + "/d/inside.txt", root + "/d/link-in"), 0)
        XCTAssertEqual(symlink(outside + "/secret.txt", root + "/d/link-out"), 0)
        XCTAssertEqual(symlink(root + "/d/nowhere", root + "/d/link-dangling"), 0)
        guard case .success(let before) = DirectoryListing.read(root + "/d", root: root) else {
            return XCTFail("the directory inside was not listed")
        }
        XCTAssertEqual(before.entries.map(\.name), ["inside.txt", "link-in"])
        XCTAssertEqual(before.entries.map(\.size), [1, 1])
        XCTAssertEqual(rename(root + "/d", root + "/d.old"), 0)
        XCTAssertEqual(symlink(outside, root + "/d"), 0)
        guard case .failure(let e) = DirectoryListing.read(root + "/d", root: root) else {
            return XCTFail("a directory outside the root was listed")
        }
        XCTAssertEqual(e, .forbidden)
    }

    /// As root (whom the kernel lets in anywhere), a directory below the route's root that others
    /// may not enter (`o-x`) hides what is in it, and one they may not read (`o-r`) is not listed,
    /// as for nginx's unprivileged workers.
    func testAsRootDirectoriesClosedToOthersAreNotServed() throws {
        try XCTSkipUnless(geteuid() == 0, "the kernel checks permissions for other users")
        let root = try makeRoot()
        for (dir, mode) in [("closed", 0o700), ("search", 0o711), ("open", 0o755)] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir + "/sub", withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/\(dir)/sub/f.txt"))
            chmod(root + "/\(dir)/sub/f.txt", 0o644)
            chmod(root + "/\(dir)/sub", 0o755)
            chmod(root + "/" + dir, mode_t(mode))
        }
        XCTAssertFalse(FileServer.othersMayReach(root + "/closed/sub/f.txt", root: root))
        XCTAssertTrue(FileServer.othersMayReach(root + "/search/sub/f.txt", root: root))
        XCTAssertTrue(FileServer.othersMayReach(root + "/open/sub/f.txt", root: root))
        XCTAssertFalse(FileServer.othersMayReach(root + "/search", root: root, listing: true), "o+x but not o+r")
        XCTAssertTrue(FileServer.othersMayReach(root + "/search/sub", root: root, listing: true))
        XCTAssertFalse(FileServer.othersMayReach(root + "/closed/sub", root: root, listing: true))
        XCTAssertTrue(FileServer.othersMayReach(root, root: root, listing: true), "the root itself is the operator's choice")
        let server = FileServer()
        let request = FileRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"))
        func status(_ relative: String) throws -> HTTPResponseStatus {
            let path = root + relative
            return server.serveFile(path, info: try FileInfo.of(path).get(), root: root, request: request).status
        }
        XCTAssertEqual(try status("/closed/sub/f.txt"), .forbidden)
        XCTAssertEqual(try status("/search/sub/f.txt"), .ok)
    }
}

