#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Process-level operations of a daemon: detaching, the error log on stderr, and reopening it.
public enum DaemonProcess {
    /// Detaches into the background: forks; the parent waits until the child reports that it
    /// started (exit 0) or why it failed (message on stderr, exit 1). The child starts a new
    /// session, points stdin/stdout/stderr at /dev/null (stderr is replaced again by the log file,
    /// if any) and closes every other inherited descriptor, so a caller waiting on a pipe it
    /// gave us is not kept waiting. Must run before any thread is started.
    /// Returns in the child only, with the write end of the readiness pipe.
    public static func detach() -> CInt {
        var fds: [CInt] = [0, 0]
        guard pipe(&fds) == 0 else { fatalError("pipe failed") }
        let pid = fork()
        if pid < 0 { fatalError("fork failed: \(String(cString: strerror(errno)))") }
        if pid > 0 {
            close(fds[1])
            var message = [UInt8]()
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fds[0], &buf, buf.count)
                if n <= 0 { break }
                message.append(contentsOf: buf[..<n])
            }
            let text = String(decoding: message, as: UTF8.self)
            if text == "ok" { exit(0) }
            FileHandle.standardError.write(Data((text.isEmpty ? "expserverd: daemon exited during start-up\n" : text).utf8))
            exit(1)
        }
        close(fds[0])
        setsid()
        let readiness = fds[1]
        let limit = min(Int(sysconf(Int32(_SC_OPEN_MAX))), 65536)
        for fd in 3..<max(limit, 3) where CInt(fd) != readiness { close(CInt(fd)) }
        let null = open("/dev/null", O_RDWR)
        dup2(null, STDIN_FILENO)
        dup2(null, STDOUT_FILENO)
        dup2(null, STDERR_FILENO)
        if null > 2 { close(null) }
        return readiness
    }

    /// Tells the waiting parent how start-up went ("ok" or an error line) and closes the pipe.
    public static func report(_ fd: CInt, _ message: String) {
        let bytes = Array(message.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Sends stderr (where the logger writes) to `path`, appending. Called again on SIGUSR1 to
    /// reopen after rotation.
    public static func redirectStderr(to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw ConfigError("error_log", "cannot open \"\(path)\": \(String(cString: strerror(errno)))")
        }
        dup2(fd, STDERR_FILENO)
        close(fd)
    }
}
