import ControlProtocol
import Foundation
import XCTest

/// A second daemon never takes over: not on a live control socket, not on a state db another
/// daemon uses, not over a pid file that names a running process.
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

    func testPIDFileNamingALiveDaemonRefusesToStart() throws {
        let first = try startDaemon(ports: [freePort()])
        // Its own socket, state db and port: only the pid file stands in the way.
        let (otherConfig, otherSocket, otherPort) = (dir + "/other.json", dir + "/other.sock", freePort())
        try configJSON(ports: [otherPort]).replacingOccurrences(of: socketPath, with: otherSocket)
            .replacingOccurrences(of: stateDBPath, with: dir + "/other.db")
            .write(toFile: otherConfig, atomically: true, encoding: .utf8)
        let daemon = try launchDaemon([otherConfig, "--pid-file", pidFilePath])
        XCTAssertEqual(waitForExit(daemon), 1, daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("names a running expserverd (pid \(first.pid))"), daemon.stderr)
        XCTAssertEqual(readPIDFile(), first.pid, "the pid file is left alone")
        XCTAssertFalse(fileExists(otherSocket), "nothing was started")
        XCTAssertFalse(portAccepts(otherPort))
    }

    func testPIDFileNamingAnotherProgramIsTakenOver() throws {
        // After a kill -9 the daemon's pid can be reused by any program: that must not block a restart.
        let sleeper = try launch(URL(fileURLWithPath: "/bin/sleep"), ["60"], name: "sleep")
        try writeConfig(configJSON(ports: [freePort()]))
        try "\(sleeper.pid)\n".write(toFile: pidFilePath, atomically: true, encoding: .utf8)
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        try waitReady(daemon)
        XCTAssertEqual(readPIDFile(), daemon.pid)
        XCTAssertTrue(sleeper.process.isRunning)
    }

    func testPIDFileOfADeadProcessIsTakenOver() throws {
        try writeConfig(configJSON(ports: [freePort()]))
        // A pid that cannot be running: above the kernel's pid_max on any default system.
        try "4194305\n".write(toFile: pidFilePath, atomically: true, encoding: .utf8)
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        try waitReady(daemon)
        XCTAssertEqual(readPIDFile(), daemon.pid)
    }

    func testSecondDaemonOnTheSameStateDBRefusesToStartUntilTheFirstIsGone() throws {
        let first = try startDaemon(ports: [freePort()])
        // Another socket and port, the same state db.
        let (otherConfig, otherSocket, otherPort) = (dir + "/other.json", dir + "/other.sock", freePort())
        try configJSON(ports: [otherPort]).replacingOccurrences(of: socketPath, with: otherSocket)
            .write(toFile: otherConfig, atomically: true, encoding: .utf8)
        let second = try launchDaemon([otherConfig])
        XCTAssertEqual(waitForExit(second), 1, second.stderr)
        XCTAssertTrue(second.stderr.contains("state_db \(stateDBPath): another expserverd is using it"), second.stderr)
        XCTAssertEqual(second.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, second.stderr)
        XCTAssertFalse(fileExists(otherSocket), "nothing was started")
        XCTAssertFalse(portAccepts(otherPort))
        XCTAssertTrue(first.process.isRunning)

        // The lock dies with its process, kill -9 included.
        kill(first.pid, SIGKILL)
        XCTAssertNotNil(waitForExit(first))
        let third = try launchDaemon([otherConfig])
        XCTAssertTrue(waitUntil(timeout: 30) { !third.process.isRunning || unixSocketAnswers(otherSocket) }, third.stderr)
        XCTAssertTrue(third.process.isRunning, third.stderr)
        XCTAssertEqual(try httpGet(port: otherPort, path: "/hello.txt").status, 200)
    }
}
