import ControlProtocol
import Foundation
import XCTest

/// Start, `expctl status --json`, the socket's mode, and SIGTERM cleaning up after itself.
final class StartStopE2ETests: E2ETestCase {
    func testStatusJSONDescribesTheRunningDaemon() throws {
        let port = freePort()
        let daemon = try startDaemon(ports: [port])
        let r = try expctl(["status", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), [
            "version", "protocol_version", "pid", "started_at", "uptime_ms", "config_path", "state_db", "control_socket",
            "workers", "listeners", "reloads",
        ])
        let status = try JSONDecoder().decode(StatusResponse.self, from: Data(r.stdout.utf8))
        XCTAssertEqual(status.pid, daemon.pid)
        XCTAssertEqual(status.protocolVersion, ControlProtocolVersion.current)
        XCTAssertEqual(status.configPath, configPath)
        XCTAssertEqual(status.stateDB, stateDBPath)
        XCTAssertEqual(status.controlSocket, socketPath)
        XCTAssertEqual(status.listeners, ["127.0.0.1:\(port)"])
        XCTAssertEqual(status.workers, 1)
        XCTAssertEqual(status.reloads, 0)
        XCTAssertEqual(try httpGet(port: port, path: "/hello.txt").body, Self.helloText)
    }

    func testStatusAsATable() throws {
        let daemon = try startDaemon(ports: [freePort()])
        let r = try expctl(["status"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("pid"), r.stdout)
        XCTAssertTrue(r.stdout.contains(String(daemon.pid)), r.stdout)
        XCTAssertTrue(r.stdout.contains(socketPath), r.stdout)
    }

    /// `--socket` and `--json` may come before the command too (`expctl --socket S status`).
    func testGlobalOptionsBeforeTheCommand() throws {
        let daemon = try startDaemon(ports: [freePort()])
        let r = try expctl(["--socket", socketPath, "status"], socket: nil)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(String(daemon.pid)), r.stdout)
        let json = try expctl(["--json", "--socket=\(socketPath)", "acl", "list"], socket: nil)
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertTrue(json.stdout.hasPrefix("{"), json.stdout)
        let wrong = try expctl(["--socket", dir + "/nowhere.sock", "status"], socket: nil)
        XCTAssertEqual(wrong.status, 3, "the socket given first is the one used: \(wrong.stderr)")
    }

    func testSocketEnvironmentVariableIsUsed() throws {
        try startDaemon(ports: [freePort()])
        let r = try expctl(["status", "--json"], socket: nil, environment: [ControlDefaults.socketEnvironmentVariable: socketPath])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testControlSocketIsMode0600() throws {
        try startDaemon(ports: [freePort()])
        XCTAssertEqual(fileMode(socketPath), 0o600)
    }

    func testSIGTERMExitsZeroAndLeavesNoSocketOrPIDFile() throws {
        let port = freePort()
        let daemon = try startDaemon(ports: [port])
        XCTAssertTrue(fileExists(socketPath))
        XCTAssertEqual(readPIDFile(), daemon.pid)
        kill(daemon.pid, SIGTERM)
        XCTAssertEqual(waitForExit(daemon), 0, daemon.stderr)
        XCTAssertFalse(fileExists(socketPath), "control socket removed")
        XCTAssertFalse(fileExists(pidFilePath), "pid file removed")
        XCTAssertFalse(portAccepts(port), "HTTP listener closed")
    }

    /// `--check` refuses what the start would refuse, exit 2 naming the key, and creates nothing.
    func testCheckRefusesWhatTheStartWouldRefuse() throws {
        func check(_ extra: String = "", replacing: (String, String)? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> CommandResult {
            var json = configJSON(ports: [freePort()], extra: extra)
            if let (old, new) = replacing { json = json.replacingOccurrences(of: "\"\(old)\"", with: "\"\(new)\"") }
            try writeConfig(json)
            let launched = try launchDaemon(["--check", configPath])
            let status = waitForExit(launched)
            return CommandResult(status: status ?? -1, stdout: (try? String(contentsOfFile: launched.stdoutPath, encoding: .utf8)) ?? "",
                                 stderr: launched.stderr)
        }
        let ok = try check()
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.hasPrefix("config OK"), ok.stdout)
        let cases: [(String, (String, String)?, String)] = [
            ("", (stateDBPath, dir + "/public"), "state_db: \"\(dir!)/public\" is a directory"),
            (#""access_log": "\#(dir!)/missing/access.log","#, nil, "access_log: the directory of"),
            (#""access_log": "\#(dir!)/public","#, nil, "access_log: "),
            (#""error_log": "\#(dir!)/missing/error.log","#, nil, "error_log: the directory of"),
            ("", (socketPath, dir + "/missing/ctl.sock"), "control.socket: the directory of"),
            ("", (socketPath, dir + "/public/hello.txt"), "control.socket: "),
        ]
        for (extra, replacing, message) in cases {
            let r = try check(extra, replacing: replacing)
            XCTAssertEqual(r.status, 2, "\(message): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("expserverd: config error: " + message), r.stderr)
        }
        XCTAssertFalse(fileExists(stateDBPath), "nothing was created")
        XCTAssertFalse(fileExists(socketPath))
        XCTAssertFalse(fileExists(dir + "/missing"))
    }

    /// With no config and no `./public`, `--check` writes the built-in default's sample site to
    /// check it, and removes it when done (as a daemon on the default does when it stops).
    func testCheckOfTheBuiltInDefaultLeavesNoSampleSite() throws {
        let empty = dir + "/empty", tmp = dir + "/tmp"
        for d in [empty, tmp] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let launched = try launch(
            try Binaries.url("expserverd"), ["--check", "--state-db", dir + "/default.db", "--socket", dir + "/default.sock"],
            name: "expserverd", environment: ["TMPDIR": tmp + "/"], directory: empty)
        XCTAssertEqual(waitForExit(launched), 0, launched.stderr)
        XCTAssertTrue(((try? String(contentsOfFile: launched.stdoutPath, encoding: .utf8)) ?? "").contains("built-in default"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp), [])
    }

    /// Checking the running daemon's config before a reload is fine: its db and socket are in use, not wrong.
    func testCheckPassesWhileTheDaemonRuns() throws {
        try startDaemon(ports: [freePort()])
        let launched = try launchDaemon(["--check", configPath])
        XCTAssertEqual(waitForExit(launched), 0, launched.stderr)
    }

    func testExpctlWithNoDaemonNamesTheSocketAndExits3() throws {
        let missing = dir + "/nothing.sock"
        let r = try expctl(["status"], socket: missing)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains(missing), r.stderr)
        XCTAssertEqual(r.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, r.stderr)
        XCTAssertEqual(r.stdout, "")
    }

    func testExpctlAfterTheDaemonStoppedExits3() throws {
        let daemon = try startDaemon(ports: [freePort()])
        kill(daemon.pid, SIGTERM)
        XCTAssertEqual(waitForExit(daemon), 0)
        let r = try expctl(["reload"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains(socketPath), r.stderr)
    }
}
