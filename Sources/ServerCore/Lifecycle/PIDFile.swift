#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The pid file: refused when it names a live expserverd, written after start-up, removed at exit.
public enum PIDFile {
    public struct InUse: Error, CustomStringConvertible {
        public let path: String
        public let pid: Int32
        public var description: String { "pid file \(path) names a running expserverd (pid \(pid)); is expserverd already running?" }
    }

    public static func check(_ path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        else { return }
        // After a kill -9 the pid may have been reused by anything: only an expserverd blocks.
        if pid != getpid() && isLive(pid) && isExpserverd(pid) { throw InUse(path: path, pid: pid) }
    }

    /// Whether `pid` runs an `expserverd` binary: the name of /proc/PID/exe (" (deleted)" after an
    /// upgrade replaced the file), else, when exe may not be read (another uid's process and we
    /// are not root), of argv[0] in /proc/PID/cmdline; when neither can be read it counts as one:
    /// refusing is the safe side. A kernel thread (or a process gone since) has no exe: not ours.
    static func isExpserverd(_ pid: Int32) -> Bool {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/\(pid)/exe", &buf, buf.count - 1)
        if n > 0 {
            var exe = String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if exe.hasSuffix(" (deleted)") { exe.removeLast(" (deleted)".count) }
            return (exe as NSString).lastPathComponent == "expserverd"
        }
        guard errno != ENOENT else { return false }
        if let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
            let argv0 = cmdline.split(separator: 0, omittingEmptySubsequences: false).first, !argv0.isEmpty
        {
            return (String(decoding: argv0, as: UTF8.self) as NSString).lastPathComponent == "expserverd"
        }
        return true
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
