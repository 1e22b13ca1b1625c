import ControlProtocol
import Foundation
import XCTest

/// `--daemon`: the parent exits 0 once the child has started, or 1 with the child's reason.
final class DetachE2ETests: E2ETestCase {
    func testDetachesAndParentExitsZeroOnceStarted() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port]))
        let parent = try spawnDaemon(["--daemon", "--pid-file", pidFilePath, configPath])
        let status = parent.wait()
        let pid = readPIDFile()
        if let pid { trackDetached(pid) }
        XCTAssertEqual(status, 0, parent.stderr)
        // Start-up finished before the parent exited: everything is already in place.
        let daemonPID = try XCTUnwrap(pid, "pid file written before the parent exits")
        XCTAssertNotEqual(daemonPID, parent.pid)
        XCTAssertTrue(processIsAlive(daemonPID))
        XCTAssertTrue(unixSocketAnswers(socketPath))
        XCTAssertEqual(try httpGet(port: port, path: "/hello.txt").status, 200)
        XCTAssertEqual(try expctlJSON(StatusResponse.self, ["status"]).pid, daemonPID)
        // A new session: the daemon is its own session leader.
        XCTAssertEqual(getsid(daemonPID), daemonPID)

        kill(daemonPID, SIGTERM)
        XCTAssertTrue(waitUntil(timeout: 15) { !processIsAlive(daemonPID) })
        XCTAssertFalse(fileExists(socketPath))
        XCTAssertFalse(fileExists(pidFilePath))
    }

    func testParentExitsOneWithTheReasonWhenStartUpFails() throws {
        let port = freePort()
        let holder = try PortHolder(port: port)
        try writeConfig(configJSON(ports: [port]))
        let parent = try spawnDaemon(["--daemon", "--pid-file", pidFilePath, configPath])
        XCTAssertEqual(parent.wait(), 1, parent.stderr)
        XCTAssertTrue(parent.stderr.contains("cannot listen on 127.0.0.1:\(port)"), parent.stderr)
        XCTAssertFalse(fileExists(pidFilePath))
        XCTAssertFalse(unixSocketAnswers(socketPath))
        _ = holder
    }

    func testParentExitsOneOnABadConfig() throws {
        try writeConfig("{ \"servers\": 5 }")
        let parent = try spawnDaemon(["--daemon", configPath])
        XCTAssertEqual(parent.wait(), 1, parent.stderr)
        XCTAssertTrue(parent.stderr.contains("config error: servers"), parent.stderr)
    }
}
