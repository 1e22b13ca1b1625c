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

    /// The pid file cannot be written where it was asked for.
    public struct Unwritable: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "--pid-file \(path): \(reason)" }
    }

    /// Before anything is bound: `path` may be written (its directory exists and takes new files;
    /// it is not a directory) and names no running expserverd.
    public static func check(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw Unwritable(path: path, reason: "is a directory")
        }
        let parent = (path as NSString).deletingLastPathComponent
        let dir = parent.isEmpty ? "." : parent
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw Unwritable(path: path, reason: "its directory \(dir) does not exist")
        }
        guard access(dir, W_OK | X_OK) == 0 else {
            throw Unwritable(path: path, reason: "cannot create files in \(dir): \(String(cString: strerror(errno)))")
        }
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

    /// Written whole or not at all (a temporary file renamed over it).
    public static func write(_ path: String) throws {
        func failed(_ what: String) -> Unwritable { Unwritable(path: path, reason: "\(what): \(String(cString: strerror(errno)))") }
        let temporary = path + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failed("cannot create \(temporary)") }
        let text = Array("\(getpid())\n".utf8)
        let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let error = written == text.count ? nil : failed("cannot write it")
        close(fd)
        if let error {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = failed("cannot rename \(temporary) to it")
            unlink(temporary)
            throw error
        }
    }

    public static func remove(_ path: String) {
        if let text = try? String(contentsOfFile: path, encoding: .utf8),
            Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) == getpid()
        {
            unlink(path)
        }
    }
}
