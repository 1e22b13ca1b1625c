import ControlProtocol
import Foundation
import XCTest

/// A config reload (`expctl reload` or SIGHUP) keeps the operator's access-list entries.
final class ACLReloadE2ETests: E2ETestCase {
    func testReloadKeepsTheEntries() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        XCTAssertEqual(try expctl(["acl", "deny", "127.0.0.2", "--reason", "abuse"]).status, 0)
        let before = try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries

        let reload = try expctl(["reload", "--reason", "routine"])
        XCTAssertEqual(reload.status, 0, reload.stderr)
        XCTAssertEqual(try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries, before)
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.2"), 403)
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.1"), 200)
    }

    func testSIGHUPKeepsTheEntries() throws {
        let port = freePort()
        let daemon = try startDaemon(ports: [port])
        XCTAssertEqual(try expctl(["acl", "deny", "127.0.0.2"]).status, 0)
        kill(daemon.pid, SIGHUP)
        XCTAssertTrue(waitUntil(timeout: 15) {
            ((try? self.expctlJSON(StatusResponse.self, ["status"]).reloads) ?? 0) == 1
        }, "the SIGHUP reload happened")
        XCTAssertEqual(try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries.map(\.cidr), ["127.0.0.2"])
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.2"), 403)
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.1"), 200)
    }
}
