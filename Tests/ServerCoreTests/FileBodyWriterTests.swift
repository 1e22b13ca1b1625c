import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import XCTest

@testable import ServerCore

/// A file body goes out in regions, a few queued at a time, in order, covering the range exactly;
/// a file cut short while it is sent fails the body instead of leaving it waiting.
final class FileBodyWriterTests: XCTestCase {
    final class Probe: ChannelOutboundHandler {
        typealias OutboundIn = IOData
    }

    var path = ""

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("fbw-\(UUID().uuidString)").path
    }

    override func tearDown() {
        unlink(path)
        super.tearDown()
    }

    /// A sparse file of `size` bytes, open.
    func makeFile(size: Int) throws -> NIOFileHandle {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0, ftruncate(fd, off_t(size)) == 0 else { throw CocoaError(.fileWriteUnknown) }
        return NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
    }

    /// Starts a writer for `count` bytes from `offset`; `progress` counts regions sent.
    func start(_ handle: NIOFileHandle, from offset: Int, count: Int, progress: @escaping () -> Void = {}) throws
        -> (EmbeddedChannel, EventLoopFuture<Void>)
    {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(Probe())
        let context = try channel.pipeline.syncOperations.context(handlerType: Probe.self)
        let done = channel.eventLoop.makePromise(of: Void.self)
        FileBodyWriter(context: context, handle: handle, from: offset, count: count, done: done, progress: progress, flush: {}).start()
        return (channel, done.futureResult)
    }

    /// Flushes the channel and returns the regions that went out.
    func flushRegions(_ channel: EmbeddedChannel) throws -> [(Int, Int)] {
        channel.flush()
        var out: [(Int, Int)] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .fileRegion(let region) = data else {
                XCTFail("not a file region")
                continue
            }
            out.append((region.readerIndex, region.endIndex))
        }
        return out
    }

    func testRegionsGoAFewAtATimeInOrderAndCoverTheRange() throws {
        let size = 5 * FileBodyWriter.regionBytes + 12345
        let handle = try makeFile(size: size)
        defer { try? handle.close() }
        let sent = Atomic(0)
        let (channel, done) = try start(handle, from: 100, count: size - 200) { sent.add(1, ordering: .relaxed) }
        let outcome = Mutex<Result<Void, Error>?>(nil)
        done.whenComplete { result in outcome.withLock { $0 = result } }
        var finished: Bool { outcome.withLock { $0 != nil } }
        XCTAssertNil(try channel.readOutbound(as: IOData.self), "nothing leaves before the flush")
        var regions: [(Int, Int)] = []
        var rounds = 0
        while !finished && rounds < 20 {
            let batch = try flushRegions(channel)
            XCTAssertLessThanOrEqual(batch.count, FileBodyWriter.regionsQueued, "round \(rounds)")
            regions += batch
            rounds += 1
        }
        guard case .success = outcome.withLock({ $0 }) else { return XCTFail("not done: \(String(describing: outcome.withLock { $0 }))") }
        XCTAssertEqual(regions.first?.0, 100)
        XCTAssertEqual(regions.last?.1, size - 100)
        for (a, b) in zip(regions, regions.dropFirst()) { XCTAssertEqual(a.1, b.0, "contiguous") }
        XCTAssertTrue(regions.allSatisfy { $0.1 - $0.0 <= FileBodyWriter.regionBytes && $0.1 > $0.0 })
        XCTAssertEqual(sent.load(ordering: .relaxed), regions.count, "each region sent is progress")
        _ = try channel.finish()
    }

    func testAFileCutShortWhileSentFailsTheBody() throws {
        let size = 3 * FileBodyWriter.regionBytes
        let handle = try makeFile(size: size)
        defer { try? handle.close() }
        let (channel, done) = try start(handle, from: 0, count: size)
        let outcome = Mutex<Result<Void, Error>?>(nil)
        done.whenComplete { result in outcome.withLock { $0 = result } }
        XCTAssertEqual(truncate(path, off_t(FileBodyWriter.regionBytes + 10)), 0)
        _ = try flushRegions(channel)  // the first two regions go; the third is past the new end
        guard case .failure(let error) = outcome.withLock({ $0 }) else { return XCTFail("not failed") }
        XCTAssertTrue(error is FileBodyWriter.Truncated, "\(error)")
        _ = try? channel.finish()
    }

    func testAnEmptyRangeSucceedsAtOnce() throws {
        let handle = try makeFile(size: 10)
        defer { try? handle.close() }
        let (channel, done) = try start(handle, from: 10, count: 0)
        XCTAssertNoThrow(try done.wait())
        XCTAssertTrue(try flushRegions(channel).isEmpty)
        _ = try channel.finish()
    }
}
