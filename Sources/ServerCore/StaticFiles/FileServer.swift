#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1

/// The request facts file serving needs, taken from the head once.
public struct FileRequest: Sendable {
    public var isHead: Bool
    /// GET or HEAD (other methods are answered as GET, but their preconditions differ).
    public var isGetOrHead: Bool
    public var ifMatch: String?
    public var ifUnmodifiedSince: String?
    public var ifNoneMatch: String?
    public var ifModifiedSince: String?
    public var range: String?
    public var ifRange: String?
    public var acceptEncoding: String?
    public var cacheControl: String?
    public var isHTTP11: Bool

    public init(head: HTTPRequestHead) {
        isHead = head.method.isHEAD
        isGetOrHead = isHead || head.method.isGET
        let h = head.headers
        ifMatch = Self.list(h, "if-match")
        ifUnmodifiedSince = h.first(name: "if-unmodified-since")
        ifNoneMatch = Self.list(h, "if-none-match")
        ifModifiedSince = h.first(name: "if-modified-since")
        range = isGetOrHead ? h.first(name: "range") : nil
        ifRange = h.first(name: "if-range")
        acceptEncoding = Self.list(h, "accept-encoding")
        cacheControl = Self.list(h, "cache-control")
        isHTTP11 = head.version.minor >= 1
    }

    /// A list-valued field: all its lines as one value, joined with ", " (RFC 9110 §5.3), so a
    /// second `Accept-Encoding` or `Cache-Control` line counts. One line is its value as it is
    /// (nothing allocated: the usual case).
    static func list(_ headers: HTTPHeaders, _ name: StaticString) -> String? {
        var value: String?
        for (n, v) in headers where Self.equals(n, name) {
            value = value.map { $0 + ", " + v } ?? v
        }
        return value
    }

    private static func equals(_ name: String, _ lower: StaticString) -> Bool {
        var name = name
        return name.withUTF8 { HeaderName.equals(UnsafeRawBufferPointer($0), lower) }
    }
}

/// Serves a file_serve route: resolves the path below the route's root, picks an index file or
/// a listing for directories, and answers files with validators, 304s and single ranges.
///
/// Containment: the canonical path of every file served, as opened (`openInside`), must lie inside
/// the canonical path of the route's root at the time of the request, so symlinks cannot leave it
/// (403). Together with `PathResolver` (no `..`) this keeps every byte outside the root unreachable.
public final class FileServer: Sendable {
    public let cache: FileCache

    public init(cache: FileCache = FileCache()) {
        self.cache = cache
    }

    public enum Outcome: Sendable {
        case response(Response)
        /// A directory without an index file: list `directory` (blocking I/O, done off the event
        /// loop); `root` is the route's, canonical.
        case listing(directory: String, root: String)
    }

    /// `relative` is the request pathname below the route prefix (`/a/b.txt`, or empty for the root).
    public func serve(route: FileServeRoute, relative: Substring, request: FileRequest) -> Outcome {
        let full = relative.isEmpty || relative == "/" ? route.root.path : route.root.path + relative
        let info: FileInfo
        switch FileInfo.of(full) {
        case .success(let i): info = i
        case .failure(let e): return .response(.status(e.status))
        }
        guard let root = route.root.real() else { return .response(.status(.notFound)) }
        let outcome = serve(full, info: info, route: route, root: root, request: request)
        // The root as resolved up to a second ago may have been switched since (a deploy): a
        // refusal is confirmed against where it leads now.
        if case .response(let r) = outcome, r.status == .forbidden, let now = route.root.real(revalidate: true), now != root {
            return serve(full, info: info, route: route, root: now, request: request)
        }
        return outcome
    }

    /// `full`'s answer, with `root` the canonical path of the route's root.
    private func serve(_ full: String, info: FileInfo, route: FileServeRoute, root: String, request: FileRequest) -> Outcome {
        switch info.kind {
        case .regular:
            return .response(serveFile(full, info: info, root: root, request: request))
        case .directory:
            for name in route.index {
                let candidate = full.hasSuffix("/") ? full + name : full + "/" + name
                if case .success(let ci) = FileInfo.of(candidate), ci.kind == .regular {
                    return .response(serveFile(candidate, info: ci, root: root, request: request))
                }
            }
            guard let real = Self.realPath(full), Self.isInside(real, root: root), Self.othersMayReach(real, root: root, listing: true) else {
                return .response(.status(.forbidden))
            }
            return .listing(directory: real, root: root)
        case .other:
            return .response(.status(.notFound))
        }
    }

    /// `root` is the canonical path of the route's root for this request.
    func serveFile(_ path: String, info: FileInfo, root: String, request: FileRequest) -> Response {
        var info = info
        // Twice at most: a file replaced between its stat and its open (a deploy renaming a new
        // version over it) is answered again from the version that was opened.
        for _ in 0..<2 {
            let file: CachedFile
            // A hit another route loaded may lie outside this route's root: then load says 403.
            if let hit = cache.lookup(path, current: info), Self.isInside(hit.realPath, root: root) {
                file = hit
            } else {
                switch load(path, info: info, root: root) {
                case .success(let f): file = f
                case .failure(let e): return .status(e.status)
                }
            }
            switch respond(file, path: path, root: root, request: request) {
            case .answer(let r): return r
            case .changed(let now): info = now
            }
        }
        return .status(.internalServerError)
    }

    /// `respond`'s result: the answer, or the version of the file found when it was opened, when
    /// that is not the version the headers describe.
    enum Attempt {
        case answer(Response)
        case changed(FileInfo)
    }

    /// First sight (or changed file): permission and containment checks (on the file opened), then
    /// small files read whole. The entry describes the file opened, which is not the stat's if
    /// another was renamed over it since.
    func load(_ path: String, info: FileInfo, root: String) -> Result<CachedFile, HTTPError> {
        guard info.isWorldReadable else { return .failure(.forbidden) }
        let read: (info: FileInfo, body: ByteBuffer?, real: String)
        switch Self.readWhole(path, root: root, limit: cache.maxFileBytes) {
        case .success(let r): read = r
        case .failure(let e): return .failure(e)
        }
        guard read.info.isWorldReadable, Self.othersMayReach(read.real, root: root) else { return .failure(.forbidden) }
        let file = CachedFile(
            realPath: read.real, info: read.info, contentType: MediaTypes.type(forPath: path), etag: read.info.etag,
            lastModified: HTTPDate.format(epochSeconds: read.info.mtimeSeconds), body: read.body)
        cache.store(path, file)
        return .success(file)
    }

    /// `root` is the canonical path of the route's root for this request.
    func respond(_ file: CachedFile, path: String, root: String, request: FileRequest) -> Attempt {
        switch ConditionalRequest.evaluate(
            ifMatch: request.ifMatch, ifUnmodifiedSince: request.ifUnmodifiedSince, ifNoneMatch: request.ifNoneMatch,
            ifModifiedSince: request.ifModifiedSince, etag: file.etag, lastModified: file.lastModified, mtime: file.info.mtimeSeconds,
            getOrHead: request.isGetOrHead, now: Int(time(nil)))
        {
        case .failed:
            return .answer(.status(.preconditionFailed))
        case .notModified:
            var r = Response(status: .notModified, headers: [("Last-Modified", file.lastModified), ("ETag", file.etag)])
            r.file = FileVariant(path: path, info: file.info, contentType: file.contentType, etag: file.etag, body: nil)
            return .answer(r)
        case .proceed:
            break
        }
        let size = file.info.size
        let variant = FileVariant(path: path, info: file.info, contentType: file.contentType, etag: file.etag, body: file.body)
        var response = Response(status: .ok, encodedHeaders: file.headerBlock)
        var offset = 0
        var count = size
        if request.range != nil {
            switch ConditionalRequest.range(request.range, ifRange: request.ifRange, size: size, etag: file.etag, lastModified: file.lastModified) {
            case .full:
                break
            case .partial(let o, let c):
                response.status = .partialContent
                offset = o
                count = c
                response.headers.append(("Content-Range", "bytes \(o)-\(o + c - 1)/\(size)"))
            case .unsatisfiable:
                var refused = Response(status: .rangeNotSatisfiable, headers: [("Content-Range", "bytes */\(size)")])
                refused.file = variant  // (for `Vary`: the compression filter sends ranges of the identity only)
                return .answer(refused)
            }
        }
        // Every answer about the file carries what the compression filter needs (`Vary` goes on
        // all of them; only a 200 may be compressed).
        response.file = variant
        if request.isHead {
            response.length = count
            return .answer(response)
        }
        if let body = file.body {
            response.body = .buffer(body.getSlice(at: body.readerIndex + offset, length: count)!)
            return .answer(response)
        }
        let fd: CInt
        switch Self.openInside(path, root: root) {
        case .success(let opened): fd = opened.fd
        case .failure(let e): return .answer(.status(e.status))
        }
        // Headers and bytes must describe the same file (nginx, too, takes both from the open file).
        guard let now = FileInfo.of(descriptor: fd) else {
            close(fd)
            return .answer(.status(.internalServerError))
        }
        guard now.sameVersion(as: file.info) else {
            close(fd)
            return .changed(now)
        }
        response.body = .file(fd: fd, offset: offset, count: count)
        return .answer(response)
    }
}
