import ControlProtocol
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What a finished command left behind.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A started `expserverd` process (not detached) and where its output goes.
struct Launched {
    let process: Process
    let stdoutPath: String
    let stderrPath: String
    var pid: pid_t { process.processIdentifier }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}

/// Base class for runs of the built binaries in a temporary directory under /tmp (short enough
/// for sun_path, traversable by other uids). Every process a test starts is tracked and stopped
/// by pid in `tearDown` (SIGTERM, then SIGKILL); detached daemons are tracked via their pid file.
class E2ETestCase: XCTestCase {
    var dir: String!
    private var processes: [Process] = []
    private var detachedPIDs: [pid_t] = []
    private var spawned: [SpawnedProcess] = []
    private var outputCounter = 0

    var configPath: String { dir + "/xps_config.json" }
    var socketPath: String { dir + "/ctl.sock" }
    var stateDBPath: String { dir + "/state.db" }
    var pidFilePath: String { dir + "/expserverd.pid" }
    static let helloText = "hello from the end-to-end fixture\n"

    override func setUpWithError() throws {
        _ = try Binaries.url("expserverd")
        var template = Array("/tmp/expsrv-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw E2EError("mkdtemp failed: \(errno)") }
        dir = String(cString: made)
        chmod(dir, 0o755)
        try FileManager.default.createDirectory(atPath: dir + "/public", withIntermediateDirectories: true)
        try Self.helloText.write(toFile: dir + "/public/hello.txt", atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        for process in processes where process.isRunning {
            stop(pid: process.processIdentifier) { process.isRunning }
        }
        for child in spawned { child.stop() }
        // A daemon that detached after its test gave up waiting is found through the pid file.
        if let pid = readPIDFile(), pid != getpid(), !detachedPIDs.contains(pid), processIsAlive(pid),
            !processes.contains(where: { $0.processIdentifier == pid })
        {
            detachedPIDs.append(pid)
        }
        for pid in detachedPIDs where processIsAlive(pid) {
            stop(pid: pid) { processIsAlive(pid) }
        }
        processes = []
        spawned = []
        detachedPIDs = []
        if let dir { try? FileManager.default.removeItem(atPath: dir) }
        super.tearDown()
    }

    private func stop(pid: pid_t, alive: () -> Bool) {
        kill(pid, SIGTERM)
        if !waitUntil(timeout: 5, { !alive() }) {
            kill(pid, SIGKILL)
            waitUntil(timeout: 5) { !alive() }
        }
    }

    /// Tracks a daemon that detached itself, so tearDown stops it.
    func trackDetached(_ pid: pid_t) { detachedPIDs.append(pid) }

    // MARK: config

    func configJSON(ports: [Int], mode: String = "0600", extra: String = "") -> String {
        let listeners = ports.map { #"{ "host": "127.0.0.1", "port": \#($0) }"# }.joined(separator: ", ")
        return """
            { "workers": 1,
              "state_db": "\(stateDBPath)",
              "control": { "socket": "\(socketPath)", "mode": "\(mode)" },
              "shutdown_grace_ms": 500,
              \(extra)
              "servers": [ { "listeners": [ \(listeners) ],
                             "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "public" } ] } ] }
            """
    }

    func writeConfig(_ json: String) throws {
        try json.write(toFile: configPath, atomically: true, encoding: .utf8)
        chmod(configPath, 0o644)
    }

    // MARK: processes

    private func outputFiles(_ name: String) throws -> (String, String) {
        outputCounter += 1
        let out = dir + "/\(name)-\(outputCounter).out", err = dir + "/\(name)-\(outputCounter).err"
        for path in [out, err] {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw E2EError("cannot create \(path)") }
        }
        return (out, err)
    }

    /// Starts `executable` with `arguments` in `directory` (default: the temporary directory),
    /// output to files in the temporary directory; tracked.
    func launch(_ executable: URL, _ arguments: [String], name: String, environment: [String: String]? = nil,
                directory: String? = nil) throws -> Launched {
        let (out, err) = try outputFiles(name)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? dir)
        var env = ProcessInfo.processInfo.environment
        env[ControlDefaults.socketEnvironmentVariable] = nil
        for (k, v) in environment ?? [:] { env[k] = v }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try process.run()
        processes.append(process)
        return Launched(process: process, stdoutPath: out, stderrPath: err)
    }

    /// Starts `expserverd` with `arguments` with posix_spawn (for `--daemon`, see `SpawnedProcess`); tracked.
    func spawnDaemon(_ arguments: [String]) throws -> SpawnedProcess {
        let (out, err) = try outputFiles("expserverd-spawned")
        let child = try SpawnedProcess(try Binaries.url("expserverd").path, arguments, stdoutPath: out, stderrPath: err)
        spawned.append(child)
        return child
    }

    /// Starts `expserverd` with `arguments` (not waiting for anything).
    func launchDaemon(_ arguments: [String]) throws -> Launched {
        try launch(try Binaries.url("expserverd"), arguments, name: "expserverd")
    }

    /// Writes the config for `ports` and starts the daemon on it with a pid file; returns once
    /// the control socket answers and the pid file is written.
    @discardableResult
    func startDaemon(ports: [Int], mode: String = "0600", arguments: [String] = [],
                     file: StaticString = #filePath, line: UInt = #line) throws -> Launched {
        try writeConfig(configJSON(ports: ports, mode: mode))
        let launched = try launchDaemon([configPath, "--pid-file", pidFilePath] + arguments)
        try waitReady(launched)
        return launched
    }

    /// Waits until `launched` answers on the control socket and wrote its pid file.
    func waitReady(_ launched: Launched, timeout: TimeInterval = 30) throws {
        let ready = waitUntil(timeout: timeout) {
            !launched.process.isRunning || (unixSocketAnswers(socketPath) && pidFileNames(launched.pid))
        }
        guard ready, launched.process.isRunning else {
            throw E2EError("expserverd did not start (running: \(launched.process.isRunning)): \(launched.stderr)")
        }
    }

    func pidFileNames(_ pid: pid_t) -> Bool { readPIDFile() == pid }

    func readPIDFile() -> pid_t? {
        (try? String(contentsOfFile: pidFilePath, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Waits (bounded) for a process to exit; its status, or nil if it is still running.
    func waitForExit(_ launched: Launched, timeout: TimeInterval = 30) -> Int32? {
        guard waitUntil(timeout: timeout, { !launched.process.isRunning }) else { return nil }
        launched.process.waitUntilExit()
        return launched.process.terminationStatus
    }

    /// Runs `expctl` to completion (bounded) with `--socket` set unless `socket` is nil; `asNobody`:
    /// as uid and gid 65534, with `groups` as its supplementary groups (none by default).
    func expctl(_ arguments: [String], socket: String? = "", asNobody: Bool = false, groups: [Int] = [],
                environment: [String: String]? = nil) throws -> CommandResult {
        var args = arguments
        if let socket { args += ["--socket", socket.isEmpty ? socketPath : socket] }
        let launched: Launched
        if asNobody {
            launched = try launch(URL(fileURLWithPath: "/usr/bin/setpriv"),
                                  ["--reuid=65534", "--regid=65534",
                                   groups.isEmpty ? "--clear-groups" : "--groups=" + groups.map(String.init).joined(separator: ","),
                                   try nobodyExpctl()] + args,
                                  name: "expctl-nobody", environment: environment)
        } else {
            launched = try launch(try Binaries.url("expctl"), args, name: "expctl", environment: environment)
        }
        guard let status = waitForExit(launched, timeout: 60) else {
            throw E2EError("expctl \(args) did not finish")
        }
        return CommandResult(
            status: status,
            stdout: (try? String(contentsOfFile: launched.stdoutPath, encoding: .utf8)) ?? "",
            stderr: launched.stderr)
    }

    /// A copy of expctl that an unprivileged uid can execute wherever the build directory is.
    private func nobodyExpctl() throws -> String {
        let copy = dir + "/expctl"
        if !FileManager.default.fileExists(atPath: copy) {
            try FileManager.default.copyItem(atPath: try Binaries.url("expctl").path, toPath: copy)
            chmod(copy, 0o755)
        }
        return copy
    }

    /// `expctl <args> --json` decoded as `T`, failing the test on a non-zero exit.
    func expctlJSON<T: Decodable>(_ type: T.Type, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> T {
        let r = try expctl(arguments + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try JSONDecoder().decode(T.self, from: Data(r.stdout.utf8))
    }

    /// Skips unless running as root with setpriv available.
    func requireRootAndSetpriv() throws {
        guard getuid() == 0 else {
            throw XCTSkip("running expctl as another uid needs root (running as uid \(getuid()))")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("setpriv (util-linux) is not installed at /usr/bin/setpriv")
        }
    }
}
