import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The response filter for static files: decides (`CompressionPolicy`) and produces the gzip
/// variant. Variants come from, in order: a precompressed `name.gz` beside the file that is at
/// least as new; the in-memory `GzipCache`; compressing on the thread pool (files up to
/// `streamThreshold`, then cached, so they get a Content-Length); or, for larger files, a stream
/// compressed piece by piece off the event loop while it is sent (never whole in memory).
/// The gzip variant's ETag is the file's made weak; `Vary: Accept-Encoding` goes on every
/// variant of a compressible file. HEAD gets the headers of the matching GET.
public final class CompressionFilter: Sendable {
    public let cache: GzipCache
    let threadPool: NIOThreadPool
    static let streamThreshold = 1 << 20
    static let chunkSize = 64 << 10

    init(cache: GzipCache, threadPool: NIOThreadPool) {
        self.cache = cache
        self.threadPool = threadPool
    }

    func apply(_ response: Response, request: FileRequest, route: FileServeRoute, eventLoop: EventLoop) -> RequestDispatcher.Result {
        guard let file = response.file, route.compression.varies(contentType: file.contentType, size: file.info.size) else {
            return .now(response)
        }
        var r = response
        r.headers.append(("Vary", "Accept-Encoding"))
        guard route.compression.shouldCompress(
            contentType: file.contentType, size: file.info.size, acceptEncoding: request.acceptEncoding,
            isRange: request.range != nil && response.status != .ok, cacheControl: request.cacheControl)
        else { return .now(r) }
        let weak = "W/" + file.etag
        if r.status == .notModified {
            r.headers = r.headers.map { $0.0 == "ETag" ? ("ETag", weak) : $0 }
            return .now(r)
        }
        guard r.status == .ok else { return .now(r) }
        if case .file(let fd, _, _) = r.body { close(fd) }
        r.encodedHeaders = Self.gzipHeaders(file)
        if let precompressed = Self.precompressed(file, root: route.root) {
            return .now(Self.withBody(r, .file(fd: precompressed.fd, offset: 0, count: precompressed.size), head: request.isHead))
        }
        let key = GzipCache.key(file.path, file.info, level: route.gzipLevel)
        if let hit = cache.get(key) {
            return .now(Self.withBody(r, .buffer(hit), head: request.isHead))
        }
        let level = route.gzipLevel
        if file.info.size <= Self.streamThreshold {
            let cache = self.cache, pool = threadPool
            // One compression for concurrent misses of the same variant (`GzipCache.compressing`).
            let compressed = cache.compressing(key, on: eventLoop) {
                pool.runIfActive(eventLoop: eventLoop) { () -> GzipCache.Compressed in
                    var info = file.info, source = file.body
                    if source == nil {
                        // Replaced since it was looked at? Then the variant is of what was read.
                        let read = try Self.readFile(file.path, root: route.root)
                        if !read.info.sameVersion(as: info) { info = read.info }
                        source = read.body
                    }
                    // Grown past the in-memory limit since it was looked at: streamed instead (below).
                    guard let source else { throw Grown(info: info) }
                    let body = try Gzip.compress(source, level: level)
                    cache.put(GzipCache.key(file.path, info, level: level), body)
                    return GzipCache.Compressed(body: body, info: info)
                }
            }
            let pending = r
            return .later(compressed.map { compressed in
                var response = pending
                if !compressed.info.sameVersion(as: file.info) {  // its headers too
                    var read = file
                    read.info = compressed.info
                    read.etag = compressed.info.etag
                    response.encodedHeaders = Self.gzipHeaders(read)
                }
                return Self.withBody(response, .buffer(compressed.body), head: request.isHead)
            }.flatMapErrorThrowing { error in
                guard let grown = error as? Grown else { return .status(.internalServerError) }
                var read = file
                read.info = grown.info
                read.etag = grown.info.etag
                var response = pending
                response.encodedHeaders = Self.gzipHeaders(read)
                return Self.streamed(response, read, level: level, request: request, threadPool: pool)
            })
        }
        return .now(Self.streamed(r, file, level: level, request: request, threadPool: threadPool))
    }

    /// A file too large to compress whole: the gzip variant of `r` (its headers set) as a stream.
    static func streamed(_ r: Response, _ file: FileVariant, level: Int, request: FileRequest, threadPool: NIOThreadPool) -> Response {
        var r = r
        r.body = .stream(GzipFileStream(path: file.path, info: file.info, level: level, threadPool: threadPool))
        if request.isHead {
            r.body = .empty
            r.length = nil
            r.omitLength = true
            // As the GET would be framed: chunked for HTTP/1.1; for HTTP/1.0 (which must not be sent
            // Transfer-Encoding, RFC 9112 §6.1) ended by the close, so the HEAD closes too.
            if request.isHTTP11 {
                r.headers.append(("Transfer-Encoding", "chunked"))
            } else {
                r.closeAfter = true
            }
        }
        return r
    }

    /// A file that grew past the in-memory limit between its stat and its read.
    struct Grown: Error {
        let info: FileInfo
    }

    /// The gzip variant's validators: the file's, its ETag made weak.
    static func gzipHeaders(_ file: FileVariant) -> ByteBuffer {
        ResponseEncoder.encodeBlock([
            ("Content-Type", file.contentType), ("Last-Modified", HTTPDate.format(epochSeconds: file.info.mtimeSeconds)),
            ("ETag", "W/" + file.etag), ("Content-Encoding", "gzip"),
        ])
    }

    static func withBody(_ response: Response, _ body: Response.Body, head: Bool) -> Response {
        var r = response
        r.body = body
        r.length = nil  // the identity length (HEAD) no longer applies
        return head ? r.withoutBody() : r
    }

    /// `name.gz` beside the file, a regular file at least as new and, like everything served,
    /// really inside the route's `root` (a `.gz` symlink leading out of it is not used, so the
    /// plain file is served as if there were none).
    static func precompressed(_ file: FileVariant, root: RouteRoot) -> (fd: CInt, size: Int)? {
        let path = file.path + ".gz"
        guard case .success(let info) = FileInfo.of(path), info.kind == .regular, info.mtimeSeconds >= file.info.mtimeSeconds,
            info.isWorldReadable, let realRoot = root.real(), case .success(let opened) = FileServer.openInside(path, root: realRoot)
        else { return nil }
        guard let now = FileInfo.of(descriptor: opened.fd), now.kind == .regular else {
            close(opened.fd)
            return nil
        }
        return (opened.fd, now.size)
    }

    /// The file at `path`, if it is still inside `root`, read whole when it is small enough.
    static func readFile(_ path: String, root: RouteRoot) throws -> (info: FileInfo, body: ByteBuffer?) {
        guard let realRoot = root.real() else { throw HTTPError.notFound }
        switch FileServer.readWhole(path, root: realRoot, limit: streamThreshold) {
        case .success(let b): return (b.info, b.body)
        case .failure(let e): throw e
        }
    }
}

/// A large file gzipped while it is sent: each 64 KiB piece is read and compressed on the thread
/// pool, then written; the next piece starts only when the previous one has been written, so
/// memory stays at a piece or two whatever the file size, and the event loop never runs zlib.
struct GzipFileStream: StreamingBody {
    let path: String
    /// The version the headers (already sent) describe: another one is not sent under them.
    let info: FileInfo
    let level: Int
    let threadPool: NIOThreadPool

    final class State: @unchecked Sendable {  // used by one step at a time, in sequence
        var fd: CInt = -1
        var gzip: GzipStream?
        var done = false
        /// Bytes of the file read so far.
        var read = 0
        deinit { if fd >= 0 { close(fd) } }
    }

    func run(on eventLoop: EventLoop, write: @escaping @Sendable (ByteBuffer) -> EventLoopFuture<Void>) -> EventLoopFuture<Void> {
        let state = State()
        let path = self.path, info = self.info, level = self.level, pool = self.threadPool
        let opened = pool.runIfActive(eventLoop: eventLoop) {
            state.fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // (a FIFO in its place fails the check below)
            guard state.fd >= 0 else { throw HTTPError.notFound }
            guard let now = FileInfo.of(descriptor: state.fd), now.sameVersion(as: info) else { throw HTTPError.internalError }
            state.gzip = try GzipStream(level: level)
        }
        @Sendable func step() -> EventLoopFuture<Void> {
            pool.runIfActive(eventLoop: eventLoop) { () -> ByteBuffer in
                var piece = ByteBufferAllocator().buffer(capacity: CompressionFilter.chunkSize)
                var failed = false
                let n = piece.writeWithUnsafeMutableBytes(minimumWritableBytes: CompressionFilter.chunkSize) { ptr in
                    let r = read(state.fd, ptr.baseAddress, CompressionFilter.chunkSize)
                    failed = r < 0
                    return max(0, r)
                }
                state.read += n
                // The headers (sent) describe `info`: a file that is not that size now (cut short or
                // grown in place) or cannot be read fails the body, and the connection closes
                // without the gzip trailer or the last chunk, so the client sees it cut, never a
                // clean answer holding part of the file (or more of it) under its validators.
                guard !failed, state.read <= info.size, n > 0 || state.read == info.size else { throw HTTPError.internalError }
                if n == 0 {
                    state.done = true
                    return try state.gzip!.finish()
                }
                return try state.gzip!.feed(piece)
            }.flatMap { out in
                let written = out.readableBytes > 0 ? write(out) : eventLoop.makeSucceededVoidFuture()
                return written.flatMap { state.done ? eventLoop.makeSucceededVoidFuture() : step() }
            }
        }
        return opened.flatMap { step() }
    }
}
