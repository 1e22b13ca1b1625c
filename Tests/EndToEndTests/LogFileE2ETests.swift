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
}
