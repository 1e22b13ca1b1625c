#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A file_serve route's root. Paths are built from `path` as configured, so a root that is (or
/// goes through) a symlink, such as `deploy/current` -> `releases/42`, is followed on every
/// request as nginx does, and switching the link serves the new release at once. Containment
/// needs the canonical path of what `path` leads to now: `real()` keeps it, checks it with one
/// `stat(2)` of `path` at most once a second (`revalidateNanos`; not on every request: that stat
/// was a few percent of a small file's cost), and calls `realpath(3)` again only when that stat
/// finds another directory than last time (device, inode or ctime differ: a switched link, a
/// directory replaced or renamed). `FileServer` asks again with `revalidate` before it answers
/// 403, so a switch is never answered with a refusal; a file of the previous release reached
/// through a link in the new one is still served for up to that second.
public final class RouteRoot: Sendable {
    /// Absolute, as configured (symlinks not resolved), without a trailing slash.
    public let path: String
    static let revalidateNanos: UInt64 = 1_000_000_000

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
        /// When `stamp` was last found current (a coarse monotonic clock, nanoseconds).
        var checkedAt: UInt64
    }
    private let resolved = Mutex<Resolved?>(nil)

    public init(_ path: String) {
        var p = path
        while p.utf8.count > 1 && p.utf8.last == UInt8(ascii: "/") { p.removeLast() }
        self.path = p
    }

    /// The canonical path of the directory `path` leads to (as of at most a second ago, or now
    /// with `revalidate`); nil if it leads nowhere.
    public func real(revalidate: Bool = false) -> String? {
        let now = Self.coarseNow()
        if !revalidate, let r = resolved.withLock({ $0 }), now &- r.checkedAt < Self.revalidateNanos { return r.real }
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let stamp = Stamp(st)
        let known: String? = resolved.withLock { r in
            guard r?.stamp == stamp else { return nil }
            r!.checkedAt = now
            return r!.real
        }
        if let known { return known }
        guard let real = FileServer.realPath(path), stat(real, &st) == 0 else { return nil }
        // Stamped with what was resolved, so a switch after the stat above shows on the next check.
        resolved.withLock { $0 = Resolved(stamp: Stamp(st), real: real, checkedAt: now) }
        return real
    }

    /// CLOCK_MONOTONIC_COARSE: a few milliseconds' resolution is plenty for a one-second window,
    /// and it costs less than the precise clock.
    static func coarseNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
