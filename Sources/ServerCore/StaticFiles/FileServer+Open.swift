#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Opening what a file_serve route serves, and containment: everything served lies inside the
/// route's canonical root.
///
/// The check is made on the file opened, not on its path beforehand: the kernel's name for the
/// open file (`/proc/self/fd/N`) must lie inside the root. A symlink swapped into the path between
/// a check and the open (by someone who can write inside the root) therefore cannot lead a
/// request out of it, which a `realpath` before the `open` could not promise (nginx's
/// `disable_symlinks` closes the same race with `openat` and `O_NOFOLLOW`). It also costs one
/// `readlink` where `realpath` costs one per path component. Without `/proc` the path is resolved
/// with `realpath` after the open, as before.
extension FileServer {
    /// `path` opened for reading, and its canonical path, when the file opened lies inside `root`
    /// (canonical); else 403, or the open's own error (404, 403, 500). Opened non-blocking so that
    /// a FIFO put in place of a file cannot hold the thread in `open` (callers serve only what
    /// `fstat` says is a regular file; on those the flag changes nothing).
    static func openInside(_ path: String, root: String) -> Result<(fd: CInt, real: String), HTTPError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(FileInfo.errorFor(errno)) }
        guard let real = openedPath(fd) ?? realPath(path), isInside(real, root: root) else {
            close(fd)
            return .failure(.forbidden)
        }
        return .success((fd, real))
    }

    /// The kernel's path of the open file `fd` (`/proc/self/fd/N`); nil when it cannot say.
    static func openedPath(_ fd: CInt) -> String? {
        let capacity = Int(PATH_MAX)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer -> String? in
            let n = buffer.withMemoryRebound(to: CChar.self) { readlink("/proc/self/fd/\(fd)", $0.baseAddress!, capacity) }
            // (Not absolute: not a path, e.g. a file of an unreachable mount; full: cut short.)
            guard n > 0, n < capacity, buffer[0] == UInt8(ascii: "/") else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<n]), as: UTF8.self)
        }
    }

    /// The open file's `fstat` and, when it has at most `limit` bytes, all of them: both of the
    /// same file, even if another was renamed over its path since. Not a regular file (a FIFO or
    /// device put in its place): 404, as when it is found so before the open.
    static func readWhole(_ fd: CInt, limit: Int) -> Result<(info: FileInfo, body: ByteBuffer?), HTTPError> {
        guard let info = FileInfo.of(descriptor: fd) else { return .failure(.internalError) }
        guard info.kind == .regular else { return .failure(.notFound) }
        guard info.size <= limit else { return .success((info, nil)) }
        let size = info.size
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        var remaining = size
        while remaining > 0 {
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: remaining) { ptr in
                let r = read(fd, ptr.baseAddress, remaining)
                return r > 0 ? r : 0
            }
            if n == 0 { break }
            remaining -= n
        }
        guard remaining == 0 else { return .failure(.internalError) }
        return .success((info, buffer))
    }

    /// `path` opened inside `root` and read as `readWhole` does.
    static func readWhole(_ path: String, root: String, limit: Int) -> Result<(info: FileInfo, body: ByteBuffer?, real: String), HTTPError> {
        switch openInside(path, root: root) {
        case .failure(let e):
            return .failure(e)
        case .success(let opened):
            defer { close(opened.fd) }
            return readWhole(opened.fd, limit: limit).map { ($0.info, $0.body, opened.real) }
        }
    }

    /// The daemon runs as root, to whom the kernel's permission checks do not apply.
    static let asRoot = geteuid() == 0

    /// As root, what an unprivileged server could not reach below the route's root is not served
    /// either: each directory below `root` down to `real` (canonical, inside `root`) must let
    /// others in (`o+x`), and a directory to be listed must also let them read it (`o+r`). The
    /// kernel refuses those to nginx's unprivileged workers; nothing refuses them to root, so a
    /// `0700` directory inside a docroot would otherwise be served and listed. (The root itself is
    /// the operator's choice; a file must be world-readable in any case, eXpServer's rule.) Not
    /// root: the kernel decides.
    static func othersMayReach(_ real: String, root: String, listing: Bool = false) -> Bool {
        guard asRoot else { return true }
        let last = listing ? real.endIndex : real.lastIndex(of: "/") ?? real.startIndex
        let below = real[..<last].utf8.dropFirst(root.utf8.count)  // ("/a/b": the directories below the root)
        guard !below.isEmpty else { return true }
        var path = root == "/" ? "" : root
        for component in Substring(below).split(separator: "/") {
            path += "/" + component
            guard isOpenToOthers(path, read: listing && path.utf8.count == real.utf8.count) else { return false }
        }
        return true
    }

    private static func isOpenToOthers(_ directory: String, read: Bool) -> Bool {
        var st = stat()
        guard stat(directory, &st) == 0 else { return false }
        return st.st_mode & S_IXOTH != 0 && (!read || st.st_mode & S_IROTH != 0)
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// `real` is `root` or below it. Compared as bytes, as the filesystem names them: String's `==`
    /// and `hasPrefix` take canonically equivalent spellings (NFC `é`, NFD `e` + U+0301) as equal.
    static func isInside(_ real: String, root: String) -> Bool {
        let r = real.utf8, p = root.utf8
        if p.elementsEqual("/".utf8) { return true }
        guard r.starts(with: p) else { return false }
        let next = r.index(r.startIndex, offsetBy: p.count)
        return next == r.endIndex || r[next] == UInt8(ascii: "/")
    }
}
