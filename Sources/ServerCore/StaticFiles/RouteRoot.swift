#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A file_serve route's root. Paths are built from `path` as configured, so a root that is (or
/// goes through) a symlink, such as `deploy/current` -> `releases/42`, is followed on every
/// request as nginx does, and switching the link serves the new release at once. Containment
/// needs the canonical path of what `path` leads to now: `real()` keeps it and calls `realpath(3)`
/// again only when one `stat(2)` of `path` finds another directory than last time (device, inode
/// or ctime differ: a switched link, a directory replaced or renamed).
public final class RouteRoot: Sendable {
    /// Absolute, as configured (symlinks not resolved), without a trailing slash.
    public let path: String

    struct Stamp: Equatable {
        let device: UInt64, inode: UInt64, ctime: Int, ctimeNanos: Int
        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            #if canImport(Darwin)
            ctime = Int(st.st_ctimespec.tv_sec)
            ctimeNanos = Int(st.st_ctimespec.tv_nsec)
            #else
            ctime = Int(st.st_ctim.tv_sec)
            ctimeNanos = Int(st.st_ctim.tv_nsec)
            #endif
        }
    }
    struct Resolved {
        let stamp: Stamp
        let real: String
    }
    private let resolved = Mutex<Resolved?>(nil)

    public init(_ path: String) {
        var p = path
        while p.utf8.count > 1 && p.utf8.last == UInt8(ascii: "/") { p.removeLast() }
        self.path = p
    }

    /// The canonical path of the directory `path` leads to now; nil if it leads nowhere.
    public func real() -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        if let r = resolved.withLock({ $0 }), r.stamp == Stamp(st) { return r.real }
        guard let real = FileServer.realPath(path), stat(real, &st) == 0 else { return nil }
        // Stamped with what was resolved, so a switch after the stat above shows on the next call.
        resolved.withLock { $0 = Resolved(stamp: Stamp(st), real: real) }
        return real
    }
}
