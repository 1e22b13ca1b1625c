import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A control socket on which something listens but never accepts, its backlog full (a hung
/// daemon): expctl gives up after a bounded wait instead of blocking, and a new expserverd
/// refuses to start beside it rather than taking it for a dead daemon's socket and replacing it.
final class HungSocketE2ETests: E2ETestCase {
    func testExpctlGivesUpOnAHungDaemon() throws {
        let hung = try FullBacklogSocket(path: socketPath)
        let started = Date()
        let r = try launch(try Binaries.url("expctl"), ["status", "--socket", socketPath], name: "expctl")
        let status = waitForExit(r, timeout: 15)
        XCTAssertEqual(status, 3, "expctl is still waiting on the hung socket: \(r.stderr)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertTrue(r.stderr.contains(socketPath) && r.stderr.contains("timed out"), r.stderr)
        _ = hung
    }

    func testDaemonRefusesToStartBesideAHungOne() throws {
        let hung = try FullBacklogSocket(path: socketPath)
        let port = freePort()
        try writeConfig(configJSON(ports: [port]))
        let daemon = try launchDaemon([configPath])
        XCTAssertEqual(waitForExit(daemon, timeout: 15), 1, "still starting or started: \(daemon.stderr)")
        XCTAssertTrue(daemon.stderr.contains("does not accept connections"), daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains(socketPath), daemon.stderr)
        XCTAssertTrue(fileExists(socketPath), "the hung daemon's socket is left alone")
        XCTAssertFalse(portAccepts(port))
        _ = hung
    }
}
