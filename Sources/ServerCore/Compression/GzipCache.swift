import NIOCore
import Synchronization

/// Compressed variants of static files, kept in memory so a repeat request costs no zlib work and
/// goes out with a Content-Length. Keyed by path and the file's identity (device, inode, size,
/// mtime) and the level, so a changed file is never served stale. Bounded in bytes; the least
/// recently used variants go first.
public final class GzipCache: Sendable {
    struct Key: Hashable {
        var path: String
        var device: UInt64
        var inode: UInt64
        var size: Int
        var mtime: Int
        var mtimeNanos: Int
        var level: Int
    }
    struct Slot {
        var body: ByteBuffer
        var lastUse: UInt64
    }
    struct State {
        var slots: [Key: Slot] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    public let maxBytes: Int
    private let state = Mutex(State())

    public init(maxBytes: Int = 64 << 20) {
        self.maxBytes = maxBytes
    }

    static func key(_ path: String, _ info: FileInfo, level: Int) -> Key {
        Key(path: path, device: info.device, inode: info.inode, size: info.size, mtime: info.mtimeSeconds,
            mtimeNanos: info.mtimeNanos, level: level)
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

    func put(_ key: Key, _ body: ByteBuffer) {
        guard body.readableBytes <= maxBytes / 4 else { return }
        state.withLock { s in
            // Older versions of the same path are dead weight now.
            for old in s.slots.keys where old.path == key.path && old != key {
                s.bytes -= s.slots[old]!.body.readableBytes
                s.slots[old] = nil
            }
            if let existing = s.slots[key] { s.bytes -= existing.body.readableBytes }
            s.clock &+= 1
            s.slots[key] = Slot(body: body, lastUse: s.clock)
            s.bytes += body.readableBytes
            if s.bytes > maxBytes {
                for (k, slot) in s.slots.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
                    if s.bytes <= maxBytes * 3 / 4 { break }
                    s.bytes -= slot.body.readableBytes
                    s.slots[k] = nil
                }
            }
        }
    }

    public var bytes: Int { state.withLock { $0.bytes } }
    public var count: Int { state.withLock { $0.slots.count } }
}
