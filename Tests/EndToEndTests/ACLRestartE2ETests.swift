import ControlProtocol
import Foundation
import XCTest

/// The access list lives in the state db: a restart on the same db, after SIGTERM or after
/// `kill -9`, keeps every acknowledged entry and keeps applying it.
final class ACLRestartE2ETests: E2ETestCase {
    var port = 0

    /// Adds three entries with expctl; the list as the daemon reports it.
    func addEntries() throws -> [ACLEntryInfo] {
        for args in [["deny", "127.0.0.2", "--reason", "abuse"], ["allow", "127.0.0.3", "--ttl", "1h"],
                     ["deny", "2001:db8::/48", "--reason", "v6 range"]] {
            let r = try expctl(["acl"] + args)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.2"), 403)
        return try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries
    }

    /// After the restart: the same entries (hit counts start again), still applied.
    func assertKept(_ before: [ACLEntryInfo], file: StaticString = #filePath, line: UInt = #line) throws {
        let after = try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries
        XCTAssertEqual(after.count, 3, file: file, line: line)
        XCTAssertEqual(after.map { var e = $0; e.hits = 0; return e }, before.map { var e = $0; e.hits = 0; return e },
                       file: file, line: line)
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.2"), 403, file: file, line: line)
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.1"), 200, file: file, line: line)
        XCTAssertEqual(try expctl(["acl", "check", "127.0.0.3"]).stdout.hasPrefix("allowed: 127.0.0.3"), true, file: file, line: line)
    }

    func testSIGTERMThenRestartKeepsTheEntries() throws {
        port = freePort()
        let first = try startDaemon(ports: [port])
        let before = try addEntries()
        kill(first.pid, SIGTERM)
        XCTAssertEqual(waitForExit(first), 0, first.stderr)

        try startDaemon(ports: [port])
        try assertKept(before)
    }

    func testKill9ThenRestartKeepsEveryAcknowledgedEntry() throws {
        port = freePort()
        let first = try startDaemon(ports: [port])
        let before = try addEntries()
        kill(first.pid, SIGKILL)
        XCTAssertNotNil(waitForExit(first))
        XCTAssertEqual(first.process.terminationReason, .uncaughtSignal)

        let second = try startDaemon(ports: [port])
        XCTAssertNotEqual(second.pid, first.pid)
        try assertKept(before)
        let audit = try expctlJSON(AuditResponse.self, ["audit"]).entries
        XCTAssertEqual(audit.map(\.action), ["acl deny", "acl allow", "acl deny"])
    }
}
