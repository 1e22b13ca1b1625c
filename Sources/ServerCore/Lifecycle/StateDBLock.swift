#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// One daemon per state db: an exclusive `flock` on `<state_db>.lock`, taken at start before the
/// db is opened and held until shutdown; the kernel drops it when the process dies, `kill -9`
/// included, so a crash never leaves it behind. Two daemons on one db (different sockets and
/// ports) would overwrite each other's statistics totals and never see each other's ACL and
/// upstream changes.
final class StateDBLock: Sendable {
    private let fd: Mutex<CInt>

    init(dbPath: String) throws {
        let path = dbPath + ".lock"
        let dir = (dbPath as NSString).deletingLastPathComponent
        // (Made as the store makes them, 0700: the lock comes first, so it creates them.)
        if !dir.isEmpty { try? SQLiteStateStore.makeDirectories(dir) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StateDBError(path: dbPath, reason: "cannot open its lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK {
                throw StateDBError(path: dbPath, reason: "another expserverd is using it (\(path) is locked)")
            }
            throw StateDBError(path: dbPath, reason: "cannot lock \(path): \(String(cString: strerror(err)))")
        }
        self.fd = Mutex(fd)
    }

    /// Unlocks (closing the descriptor); a daemon shut down in-process lets the next one start.
    func release() {
        fd.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    deinit { release() }
}

/// A state db that cannot be used, naming it: `state_db /var/lib/expserver/state.db: <reason>`.
public struct StateDBError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "state_db \(path): \(reason)" }
}
