#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The pid file: refused when it names a live process, written after start-up, removed at exit.
public enum PIDFile {
    public struct InUse: Error, CustomStringConvertible {
        public let path: String
        public let pid: Int32
        public var description: String { "pid file \(path) names a running process (pid \(pid)); is expserverd already running?" }
    }

    public static func check(_ path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        else { return }
        if pid != getpid() && isLive(pid) { throw InUse(path: path, pid: pid) }
    }

    /// A process that exists and is not a zombie (a killed daemon whose parent has not reaped it
    /// yet must not block a restart).
    static func isLive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    public static func write(_ path: String) throws {
        try "\(getpid())\n".write(toFile: path, atomically: true, encoding: .utf8)
    }

    public static func remove(_ path: String) {
        if let text = try? String(contentsOfFile: path, encoding: .utf8),
            Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) == getpid()
        {
            unlink(path)
        }
    }
}
