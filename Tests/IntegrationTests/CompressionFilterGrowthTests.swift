import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import XCTest

@testable import ServerCore

/// The gzip variant of a small file is read and compressed on the thread pool: a file that grew
/// past the in-memory limit meanwhile (a deploy) is sent as a gzip stream of what it is now, not
/// a 500.
final class CompressionFilterGrowthTests: XCTestCase {
    func testAFileThatGrewPastTheLimitIsStreamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gzgrow-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = try XCTUnwrap(FileServer.realPath(dir))
        let path = root + "/f.txt"
        func write(_ count: Int) throws {
            try Data(repeating: UInt8(ascii: "a"), count: count).write(to: URL(fileURLWithPath: path + ".new"))
            chmod(path + ".new", 0o644)
            XCTAssertEqual(rename(path + ".new", path), 0)
        }
        try write(300 << 10)  // past the open-file cache's in-memory limit: read again for gzip
        let route = FileServeRoute(
            root: root, index: [], gzipEnable: true, gzipLevel: 1, gzipMimeTypes: [],
            compression: CompressionPolicy(enabled: true), gzipListing: false)
        var headers = HTTPHeaders()
        headers.add(name: "Accept-Encoding", value: "gzip")
        let request = FileRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/f.txt", headers: headers))
        guard case .response(let plain) = FileServer().serve(route: route, relative: "/f.txt", request: request) else {
            return XCTFail("not a response")
        }
        try write(CompressionFilter.streamThreshold + 4096)
        let grown = try FileInfo.of(path).get()
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { try? pool.syncShutdownGracefully() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let filter = CompressionFilter(cache: GzipCache(), threadPool: pool)
        guard case .later(let future) = filter.apply(plain, request: request, route: route, eventLoop: loop) else {
            return XCTFail("a small file's variant is compressed later")
        }
        let r = try future.wait()
        XCTAssertEqual(r.status, .ok)
        guard case .stream = r.body else { return XCTFail("not streamed: \(r.status)") }
        let head = String(buffer: try XCTUnwrap(r.encodedHeaders))
        XCTAssertTrue(head.contains("W/" + grown.etag), head)
    }
}
