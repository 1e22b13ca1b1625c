import Foundation
import XCTest

/// `--log-file`: logs go to the file; SIGUSR1 reopens it after rotation.
final class LogFileE2ETests: E2ETestCase {
    func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func testSIGUSR1ReopensTheLogFile() throws {
        let log = dir + "/expserverd.log", rotated = dir + "/expserverd.log.1"
        let daemon = try startDaemon(ports: [freePort()], arguments: ["--log-file", log])
        XCTAssertTrue(waitUntil { self.contents(log).contains("started") }, "log: \(contents(log)) stderr: \(daemon.stderr)")
        XCTAssertFalse(daemon.stderr.contains("started"), "logs go to the file, not stderr")

        try FileManager.default.moveItem(atPath: log, toPath: rotated)
        kill(daemon.pid, SIGUSR1)
        XCTAssertTrue(waitUntil { self.contents(log).contains("log files reopened") }, "reopened: \(contents(log))")
        XCTAssertFalse(contents(rotated).contains("log files reopened"))

        // Later messages land in the new file.
        XCTAssertEqual(try expctl(["reload"]).status, 0)
        XCTAssertTrue(waitUntil { self.contents(log).contains("config reloaded") }, contents(log))
        XCTAssertFalse(contents(rotated).contains("config reloaded"))
    }

    func testErrorLogFromTheConfig() throws {
        let log = dir + "/error.log"
        try writeConfig(configJSON(ports: [freePort()], extra: #""error_log": "error.log","#))
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        try waitReady(daemon)
        XCTAssertTrue(waitUntil { self.contents(log).contains("started") }, contents(log))
    }

    /// A foreground start that fails says why on the stderr it was started with, not only in the
    /// error log it had switched to.
    func testAFailedStartIsReportedOnTheTerminalToo() throws {
        let log = dir + "/error.log"
        try FileManager.default.createDirectory(atPath: dir + "/db-is-a-directory", withIntermediateDirectories: true)
        try writeConfig(configJSON(ports: [freePort()], extra: #""error_log": "error.log","#)
            .replacingOccurrences(of: "\"\(stateDBPath)\"", with: "\"\(dir!)/db-is-a-directory\""))
        let daemon = try launchDaemon([configPath])
        let status = waitForExit(daemon)
        XCTAssertNotNil(status)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(daemon.stderr.contains("state_db"), "terminal: \(daemon.stderr)")
        XCTAssertTrue(contents(log).contains("state_db"), "log: \(contents(log))")
    }

    /// A SIGUSR1 whose log file cannot be opened again says so, instead of "reopened".
    func testAFailedReopenIsReported() throws {
        let logs = dir + "/logs", log = dir + "/expserverd.log"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try writeConfig(configJSON(ports: [freePort()], extra: #""access_log": "logs/access.log","#))
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath, "--log-file", log])
        try waitReady(daemon)
        try FileManager.default.removeItem(atPath: logs)
        kill(daemon.pid, SIGUSR1)
        XCTAssertTrue(waitUntil { self.contents(log).contains("log files not reopened") }, contents(log))
        XCTAssertTrue(contents(log).contains("access.log"), contents(log))
        XCTAssertFalse(contents(log).contains("log files reopened"), contents(log))
    }

    /// A pid file that cannot be written is refused before anything is bound, in one line naming
    /// the flag.
    func testAnUnwritablePIDFileIsRefusedBeforeBinding() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port]))
        for (pidFile, reason) in [(dir + "/missing/x.pid", "does not exist"), (dir!, "is a directory")] {
            let daemon = try launchDaemon([configPath, "--pid-file", pidFile])
            XCTAssertEqual(waitForExit(daemon), 1)
            let lines = daemon.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, daemon.stderr)
            XCTAssertTrue(daemon.stderr.contains("--pid-file \(pidFile): ") && daemon.stderr.contains(reason), daemon.stderr)
            XCTAssertFalse(daemon.stderr.contains("listening"), "nothing was bound: \(daemon.stderr)")
        }
    }
}
