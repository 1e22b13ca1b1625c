import ControlProtocol
import Foundation
import XCTest

/// A caller with another uid (expctl run as nobody via setpriv): refused by the kernel when the
/// socket is 0600, refused by the daemon (403, audited) when the socket is world-writable.
final class PeerCredentialsE2ETests: E2ETestCase {
    static let nobody: Int64 = 65534

    override func setUpWithError() throws {
        try super.setUpWithError()
        try requireRootAndSetpriv()
    }

    func testMode0600RefusesOtherUsersAtConnect() throws {
        try startDaemon(ports: [freePort()])
        XCTAssertEqual(fileMode(socketPath), 0o600)
        let r = try expctl(["status"], asNobody: true)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("permission denied"), r.stderr)
        XCTAssertTrue(r.stderr.contains(socketPath), r.stderr)
        // The kernel refused the connect: the daemon never saw a request.
        XCTAssertEqual(try expctlJSON(AuditResponse.self, ["audit"]).entries, [])
    }

    func testDaemonRefusesAStrangerWith403AndAuditsIt() throws {
        try startDaemon(ports: [freePort()], mode: "0666")
        XCTAssertEqual(fileMode(socketPath), 0o666)
        let r = try expctl(["status"], asNobody: true)
        XCTAssertEqual(r.status, 1, "the daemon answered 403: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("uid 65534 may not use this control socket"), r.stderr)
        XCTAssertEqual(r.stdout, "")
        let reload = try expctl(["reload", "--reason", "sneaky"], asNobody: true)
        XCTAssertEqual(reload.status, 1, reload.stderr)
        XCTAssertEqual(try expctlJSON(StatusResponse.self, ["status"]).reloads, 0, "the refused reload did nothing")

        let refused = try expctlJSON(AuditResponse.self, ["audit", "--since", "1h"]).entries
        XCTAssertEqual(refused.map(\.result), ["refused", "refused"])
        XCTAssertEqual(refused.map(\.uid), [Self.nobody, Self.nobody])
        XCTAssertEqual(refused.map(\.action), ["GET /v1/status", "POST /v1/reload"])
        XCTAssertTrue(refused.allSatisfy { $0.pid != nil && $0.pid != Int64(getpid()) })
    }

    func testAllowedUIDIsLetIn() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port], mode: "0666").replacingOccurrences(
            of: #""mode": "0666""#, with: #""mode": "0666", "allowed_uids": [65534]"#))
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        try waitReady(daemon)
        let r = try expctl(["status", "--json"], asNobody: true)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try JSONDecoder().decode(StatusResponse.self, from: Data(r.stdout.utf8)).pid, daemon.pid)
    }

    func testAllowedGIDIsLetInAsASupplementaryGroup() throws {
        try writeConfig(configJSON(ports: [freePort()], mode: "0666").replacingOccurrences(
            of: #""mode": "0666""#, with: #""mode": "0666", "allowed_gids": [4343]"#))
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        try waitReady(daemon)
        // Primary gid 65534; 4343 only among the supplementary groups (SO_PEERGROUPS).
        let r = try expctl(["status", "--json"], asNobody: true, groups: [4242, 4343])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try JSONDecoder().decode(StatusResponse.self, from: Data(r.stdout.utf8)).pid, daemon.pid)
        let stranger = try expctl(["status"], asNobody: true, groups: [4242])
        XCTAssertEqual(stranger.status, 1, stranger.stderr)
    }

    func testUIDRemovedFromAllowedUIDsIsRefusedAfterAReload() throws {
        let port = freePort()
        let open = configJSON(ports: [port], mode: "0666")
        try writeConfig(open.replacingOccurrences(of: #""mode": "0666""#, with: #""mode": "0666", "allowed_uids": [65534]"#))
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        try waitReady(daemon)
        XCTAssertEqual(try expctl(["status"], asNobody: true).status, 0)

        try writeConfig(open)
        let reload = try expctl(["reload"])
        XCTAssertEqual(reload.status, 0, reload.stderr)
        let r = try expctl(["status"], asNobody: true)
        XCTAssertEqual(r.status, 1, "revoked by the reload: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("uid 65534 may not use this control socket"), r.stderr)
    }
}
