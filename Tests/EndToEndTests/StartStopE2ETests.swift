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
