import NIOCore
import Synchronization

/// A file as last validated: where it really is (inside its route's root), its validators and,
/// for small files, its bytes.
public struct CachedFile: Sendable {
    /// Its canonical path when loaded. Routes with nested roots share entries (the cache is keyed
    /// by path), so each hit is checked against the asking route's root again.
    public let realPath: String
    public let info: FileInfo
    public let contentType: String
    public let etag: String
    public let lastModified: String
    /// The whole file, for files up to `FileCache.maxFileBytes`; nil for larger ones (sent with sendfile).
    public let body: ByteBuffer?
    /// `Content-Type`, `Last-Modified`, `ETag`, `Accept-Ranges`, encoded once.
    public let headerBlock: ByteBuffer

    init(realPath: String, info: FileInfo, contentType: String, etag: String, lastModified: String, body: ByteBuffer?) {
        self.realPath = realPath
        self.info = info
        self.contentType = contentType
        self.etag = etag
        self.lastModified = lastModified
        self.body = body
        headerBlock = ResponseEncoder.encodeBlock([
            ("Content-Type", contentType), ("Last-Modified", lastModified), ("ETag", etag), ("Accept-Ranges", "bytes"),
        ])
    }
}

/// Open-file cache: path → last validated version. A hit still costs one `stat(2)` so that a
/// changed file is never served stale; what it saves is the containment check on the opened file
/// (redone on the stored real path), `open`/`read`, and the header strings. Bounded in bytes and entries; least recently used
/// entries go first.
public final class FileCache: Sendable {
    public let maxBytes: Int
    public let maxFileBytes: Int
    public let maxEntries: Int

    /// A path compared and hashed as bytes: two names that differ only in Unicode normalisation are
    /// two files, though String's `==` takes them as equal.
    struct Key: Hashable {
        let path: String
        init(_ path: String) {
            var p = path
            p.makeContiguousUTF8()  // a no-op for native strings; hash(into:) needs the bytes in one piece
            self.path = p
        }
        static func == (a: Key, b: Key) -> Bool { a.path.utf8.elementsEqual(b.path.utf8) }
        func hash(into hasher: inout Hasher) {
            _ = path.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }
    struct Slot {
        var file: CachedFile
        var lastUse: UInt64
    }
    struct State {
        var slots: [Key: Slot] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }
    private let state = Mutex(State())

    public init(maxBytes: Int = 64 << 20, maxFileBytes: Int = 256 << 10, maxEntries: Int = 10_000) {
        self.maxBytes = maxBytes
        self.maxFileBytes = maxFileBytes
        self.maxEntries = maxEntries
    }

    /// The cached version of `path` if it is still `current`.
    public func lookup(_ path: String, current: FileInfo) -> CachedFile? {
        let path = Key(path)
        return state.withLock { s in
            guard var slot = s.slots[path] else { return nil }
            guard slot.file.info.sameVersion(as: current) else {
                s.bytes -= slot.file.body?.readableBytes ?? 0
                s.slots[path] = nil
                return nil
            }
            s.clock &+= 1
            slot.lastUse = s.clock
            s.slots[path] = slot
            return slot.file
        }
    }

    public func store(_ path: String, _ file: CachedFile) {
        let size = file.body?.readableBytes ?? 0
        guard size <= maxFileBytes else { return }
        let path = Key(path)
        state.withLock { s in
            if let old = s.slots[path] { s.bytes -= old.file.body?.readableBytes ?? 0 }
            s.clock &+= 1
            s.slots[path] = Slot(file: file, lastUse: s.clock)
            s.bytes += size
            if s.bytes > maxBytes || s.slots.count > maxEntries { Self.evict(&s, maxBytes: maxBytes, maxEntries: maxEntries) }
        }
    }

    public var count: Int { state.withLock { $0.slots.count } }
    public var bytes: Int { state.withLock { $0.bytes } }

    /// Drops the least recently used quarter (at least enough to get under both bounds).
    private static func evict(_ s: inout State, maxBytes: Int, maxEntries: Int) {
        let byAge = s.slots.sorted { $0.value.lastUse < $1.value.lastUse }
        let targetBytes = maxBytes * 3 / 4
        let targetCount = maxEntries * 3 / 4
        for (key, slot) in byAge {
            if s.bytes <= targetBytes && s.slots.count <= targetCount { break }
            s.bytes -= slot.file.body?.readableBytes ?? 0
            s.slots[key] = nil
        }
    }
}
