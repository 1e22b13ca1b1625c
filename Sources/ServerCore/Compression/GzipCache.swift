import NIOCore
import Synchronization

/// Compressed variants of static files, kept in memory so a repeat request costs no zlib work and
/// goes out with a Content-Length. Keyed by path and the file's identity (device, inode, size,
/// mtime, ctime) and the level, so a changed file is never served stale. Bounded in bytes; the least
/// recently used variants go first. Concurrent misses for one variant share one compression
/// (`compressing`): a burst of requests for a file just deployed costs zlib once, not once each on
/// the file server's small thread pool.
public final class GzipCache: Sendable {
    struct Key: Hashable {
        var path: String
        var device: UInt64
        var inode: UInt64
        var size: Int
        var mtime: Int
        var mtimeNanos: Int
        var ctime: Int
        var ctimeNanos: Int
        var level: Int
    }
    struct Slot {
        var body: ByteBuffer
        var lastUse: UInt64
    }
    /// What a compression produced: the variant and the version of the file it is of (newer than
    /// the one asked for when the file was replaced meanwhile).
    struct Compressed: Sendable {
        var body: ByteBuffer
        var info: FileInfo
    }
    struct State {
        var slots: [Key: Slot] = [:]
        /// Each path's one variant in `slots` (an insert replaces the path's older one without a
        /// scan of every entry under the lock).
        var byPath: [String: Key] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        /// The compressions in progress; an entry goes when its compression ends (its result is
        /// in `slots` by then, unless it failed).
        var pending: [Key: EventLoopFuture<Compressed>] = [:]
        /// How many compressions were started (tests; a burst of misses for one file counts once).
        var compressions = 0
    }

    public let maxBytes: Int
    private let state = Mutex(State())

    public init(maxBytes: Int = 64 << 20) {
        self.maxBytes = maxBytes
    }

    static func key(_ path: String, _ info: FileInfo, level: Int) -> Key {
        Key(path: path, device: info.device, inode: info.inode, size: info.size, mtime: info.mtimeSeconds,
            mtimeNanos: info.mtimeNanos, ctime: info.ctimeSeconds, ctimeNanos: info.ctimeNanos, level: level)
    }

    func get(_ key: Key) -> ByteBuffer? {
        state.withLock { s in
            guard var slot = s.slots[key] else { return nil }
            s.clock &+= 1
            slot.lastUse = s.clock
            s.slots[key] = slot
            return slot.body
        }
    }

    /// The variant for `key` from the compression in progress for it, or from `compress` (which
    /// compresses off the event loop and `put`s the result) started now; on `eventLoop`.
    func compressing(_ key: Key, on eventLoop: EventLoop,
                     _ compress: () -> EventLoopFuture<Compressed>) -> EventLoopFuture<Compressed> {
        let (running, promise) = state.withLock { s -> (EventLoopFuture<Compressed>?, EventLoopPromise<Compressed>?) in
            if let running = s.pending[key] { return (running, nil) }
            let promise = eventLoop.makePromise(of: Compressed.self)
            s.pending[key] = promise.futureResult
            s.compressions += 1
            return (nil, promise)
        }
        if let running { return running.hop(to: eventLoop) }
        compress().whenComplete { result in
            self.state.withLock { _ = $0.pending.removeValue(forKey: key) }
            promise!.completeWith(result)
        }
        return promise!.futureResult
    }

    func put(_ key: Key, _ body: ByteBuffer) {
        guard body.readableBytes <= maxBytes / 4 else { return }
        state.withLock { s in
            // An older version of the same path (or this one again) is dead weight now.
            if let old = s.byPath.updateValue(key, forKey: key.path), let slot = s.slots.removeValue(forKey: old) {
                s.bytes -= slot.body.readableBytes
            }
            s.clock &+= 1
            s.slots[key] = Slot(body: body, lastUse: s.clock)
            s.bytes += body.readableBytes
            // Over the bound: down to 3/4 of it at once, so the sort is paid once per quarter of
            // the budget inserted, not on every insert.
            if s.bytes > maxBytes {
                for (k, slot) in s.slots.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
                    if s.bytes <= maxBytes * 3 / 4 { break }
                    s.bytes -= slot.body.readableBytes
                    s.slots[k] = nil
                    s.byPath[k.path] = nil
                }
            }
        }
    }

    public var bytes: Int { state.withLock { $0.bytes } }
    public var count: Int { state.withLock { $0.slots.count } }
    var compressions: Int { state.withLock { $0.compressions } }
}
