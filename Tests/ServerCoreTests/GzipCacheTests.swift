#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOEmbedded
import XCTest

@testable import ServerCore

/// The compressed-variant cache, on values.
final class GzipCacheTests: XCTestCase {
    func key(_ path: String, mtime: Int = 1, level: Int = 6) -> GzipCache.Key {
        GzipCache.Key(path: path, device: 1, inode: 2, size: 3, mtime: mtime, mtimeNanos: 0, ctime: 4, ctimeNanos: 0, level: level)
    }

    func buffer(_ count: Int) -> ByteBuffer { ByteBuffer(repeating: 0x61, count: count) }

    /// Misses for one variant while its compression runs share it: `compress` runs once, every
    /// caller gets its result, and a later miss (after a failure) starts a new one.
    func testConcurrentMissesShareOneCompression() throws {
        let loop = EmbeddedEventLoop()
        let cache = GzipCache()
        let k = key("/a.txt")
        var started: [EventLoopPromise<GzipCache.Compressed>] = []
        func miss() -> EventLoopFuture<GzipCache.Compressed> {
            cache.compressing(k, on: loop) {
                let p = loop.makePromise(of: GzipCache.Compressed.self)
                started.append(p)
                return p.futureResult
            }
        }
        let waiters = (0..<5).map { _ in miss() }
        XCTAssertEqual(started.count, 1, "one compression for five misses")
        XCTAssertEqual(cache.compressions, 1)
        let other = cache.compressing(key("/b.txt"), on: loop) { loop.makeSucceededFuture(.init(body: buffer(1), info: FileInfo(stat()))) }
        XCTAssertEqual(try other.wait().body.readableBytes, 1, "another variant has its own")
        started[0].succeed(.init(body: buffer(10), info: FileInfo(stat())))
        loop.run()
        for w in waiters { XCTAssertEqual(try w.wait().body.readableBytes, 10) }

        // Done: the next miss compresses again (in the server, the cache answers it first); a
        // failure reaches every waiter and is not kept either.
        let failing = [miss(), miss()]
        XCTAssertEqual(started.count, 2)
        started[1].fail(HTTPError.internalError)
        loop.run()
        for f in failing { XCTAssertThrowsError(try f.wait()) }
        _ = miss()
        XCTAssertEqual(started.count, 3, "a failed compression is not kept")
        started[2].succeed(.init(body: buffer(1), info: FileInfo(stat())))
        loop.run()
        XCTAssertEqual(cache.compressions, 4)
    }
}

extension GzipCacheTests {
    /// A path has one variant (a new version replaces the old one); over the bound, the least
    /// recently used go first, down to 3/4 of it.
    func testVersionsReplaceEachOtherAndTheLeastRecentlyUsedGoFirst() {
        let cache = GzipCache(maxBytes: 400)
        cache.put(key("/a", mtime: 1), buffer(100))
        cache.put(key("/a", mtime: 2), buffer(50))
        XCTAssertNil(cache.get(key("/a", mtime: 1)), "the older version is gone")
        XCTAssertEqual(cache.get(key("/a", mtime: 2))?.readableBytes, 50)
        XCTAssertEqual(cache.count, 1)
        XCTAssertEqual(cache.bytes, 50)
        cache.put(key("/a", mtime: 2), buffer(60))  // the same version again
        XCTAssertEqual(cache.bytes, 60)
        cache.put(key("/b"), buffer(100))
        cache.put(key("/c"), buffer(100))
        _ = cache.get(key("/a", mtime: 2))  // used: /b is now the least recent
        cache.put(key("/d"), buffer(100))
        XCTAssertEqual(cache.bytes, 360)
        cache.put(key("/e"), buffer(100))  // 460 > 400: down to <= 300
        XCTAssertNil(cache.get(key("/b")))
        XCTAssertNil(cache.get(key("/c")))
        XCTAssertNotNil(cache.get(key("/a", mtime: 2)))
        XCTAssertEqual(cache.bytes, 260)
        cache.put(key("/b"), buffer(10))  // an evicted path comes back
        XCTAssertEqual(cache.count, 4)
        XCTAssertEqual(cache.bytes, 270)
    }
}
