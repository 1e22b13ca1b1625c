import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child started with `posix_spawn` and reaped with `waitpid` by the test itself.
///
/// For `expserverd --daemon`: Foundation's `Process` on Linux learns that a child exited when a
/// socket the child inherited reaches EOF, and the detached grandchild inherits that socket too,
/// so `Process` would report the parent as running until the daemon exits.
final class SpawnedProcess {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private(set) var exitStatus: Int32?

    init(_ executable: String, _ arguments: [String], stdoutPath: String, stderrPath: String) throws {
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw E2EError("posix_spawn \(executable) failed: \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Reaps the child if it has exited; true once it has.
    func poll() -> Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return r < 0 }
        // WIFEXITED / WEXITSTATUS; a signal death is reported as 128 + signal, as shells do.
        exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return true
    }

    /// The exit status once the child exits within `timeout`, else nil.
    func wait(timeout: TimeInterval = 30) -> Int32? {
        waitUntil(timeout: timeout) { poll() }
        return exitStatus
    }

    /// SIGTERM, then SIGKILL; always reaps.
    func stop() {
        guard !poll() else { return }
        kill(pid, SIGTERM)
        if wait(timeout: 5) == nil {
            kill(pid, SIGKILL)
            _ = wait(timeout: 5)
        }
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}
