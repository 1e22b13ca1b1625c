import ControlProtocol
import Foundation
import XCTest

/// A second daemon never takes over: not on a live control socket, not over a pid file that
/// names a running process.
final class SingleInstanceE2ETests: E2ETestCase {
    func testSecondDaemonOnTheSameSocketRefusesToStart() throws {
        let port = freePort()
        let first = try startDaemon(ports: [port])
        let second = try launchDaemon([configPath])
        XCTAssertEqual(waitForExit(second), 1, second.stderr)
        XCTAssertTrue(second.stderr.contains("another expserverd is running"), second.stderr)
        XCTAssertTrue(second.stderr.contains(socketPath), second.stderr)

        XCTAssertTrue(first.process.isRunning)
        XCTAssertEqual(try expctlJSON(StatusResponse.self, ["status"]).pid, first.pid, "the first daemon still answers")
        XCTAssertEqual(readPIDFile(), first.pid)
        XCTAssertEqual(try httpGet(port: port, path: "/hello.txt").status, 200)
    }

    func testPIDFileNamingALiveProcessRefusesToStart() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port]))
        // This test process is alive and is not the daemon.
        try "\(getpid())\n".write(toFile: pidFilePath, atomically: true, encoding: .utf8)
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        XCTAssertEqual(waitForExit(daemon), 1, daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("names a running process (pid \(getpid()))"), daemon.stderr)
        XCTAssertEqual(readPIDFile(), getpid(), "the pid file is left alone")
        XCTAssertFalse(fileExists(socketPath), "nothing was started")
        XCTAssertFalse(portAccepts(port))
    }

    func testPIDFileOfADeadProcessIsTakenOver() throws {
        try writeConfig(configJSON(ports: [freePort()]))
        // A pid that cannot be running: above the kernel's pid_max on any default system.
        try "4194305\n".write(toFile: pidFilePath, atomically: true, encoding: .utf8)
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        try waitReady(daemon)
        XCTAssertEqual(readPIDFile(), daemon.pid)
    }
}
