import ControlProtocol
import Foundation
import XCTest

/// `kill -9`, then a restart on the same state db: the stale socket and pid file do not stop it,
/// and every audit record that was acknowledged before the kill is still there.
final class CrashRestartE2ETests: E2ETestCase {
    func testKill9ThenRestartKeepsEveryAcknowledgedAuditRecord() throws {
        let port = freePort()
        let first = try startDaemon(ports: [port])
        var acknowledged: [String] = []
        for i in 1...5 {
            let r = try expctl(["reload", "--reason", "ack-\(i)"])
            XCTAssertEqual(r.status, 0, r.stderr)
            acknowledged.append("ack-\(i)")
        }
        let before = try expctlJSON(AuditResponse.self, ["audit"]).entries
        let last = try expctl(["reload", "--reason", "ack-last"])
        XCTAssertEqual(last.status, 0, last.stderr)
        acknowledged.append("ack-last")
        kill(first.pid, SIGKILL)
        XCTAssertNotNil(waitForExit(first))
        XCTAssertEqual(first.process.terminationReason, .uncaughtSignal)
        XCTAssertTrue(fileExists(socketPath), "kill -9 leaves the socket file behind")
        XCTAssertFalse(unixSocketAnswers(socketPath))
        XCTAssertEqual(readPIDFile(), first.pid, "and the pid file")

        let second = try startDaemon(ports: [port])
        XCTAssertNotEqual(second.pid, first.pid)
        XCTAssertEqual(readPIDFile(), second.pid)
        XCTAssertEqual(fileMode(socketPath), 0o600)
        let after = try expctlJSON(AuditResponse.self, ["audit"]).entries
        XCTAssertEqual(after.compactMap(\.reason), acknowledged)
        XCTAssertEqual(Array(after.prefix(before.count)), before, "records are unchanged, ids included")
        XCTAssertEqual(try httpGet(port: port, path: "/hello.txt").status, 200)
    }

    func testStaleSocketFileFromADeadDaemonIsReplaced() throws {
        let port = freePort()
        let first = try startDaemon(ports: [port])
        kill(first.pid, SIGKILL)
        XCTAssertNotNil(waitForExit(first))
        XCTAssertTrue(fileExists(socketPath))
        try FileManager.default.removeItem(atPath: pidFilePath)
        let nobodyHome = try expctl(["status"])
        XCTAssertEqual(nobodyHome.status, 3, "a stale socket is no daemon: \(nobodyHome.stderr)")
        XCTAssertTrue(nobodyHome.stderr.contains(socketPath), nobodyHome.stderr)

        let second = try launchDaemon([configPath])
        XCTAssertTrue(waitUntil(timeout: 30) { !second.process.isRunning || unixSocketAnswers(socketPath) }, second.stderr)
        XCTAssertTrue(second.process.isRunning, second.stderr)
        XCTAssertEqual(try expctlJSON(StatusResponse.self, ["status"]).pid, second.pid)
    }
}
