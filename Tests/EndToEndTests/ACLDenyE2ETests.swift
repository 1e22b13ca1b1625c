import ControlProtocol
import Foundation
import XCTest

/// `expctl acl deny|check|list|remove` against the running daemon: the denied address is
/// refused on its next request while the others are served, and every change is audited.
final class ACLDenyE2ETests: E2ETestCase {
    func testDenyRefusesThatAddressWhileOthersAreServed() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.2"), 200)

        let deny = try expctl(["acl", "deny", "127.0.0.2", "--reason", "abuse"])
        XCTAssertEqual(deny.status, 0, deny.stderr)
        XCTAssertEqual(deny.stdout, "added: deny 127.0.0.2\n")
        XCTAssertEqual(deny.stderr, "")
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.2"), 403)
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.1"), 200)
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.3"), 200)

        let listed = try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries
        XCTAssertEqual(listed.count, 1)
        XCTAssertEqual(listed.first?.cidr, "127.0.0.2")
        XCTAssertEqual(listed.first?.action, "deny")
        XCTAssertEqual(listed.first?.source, "manual")
        XCTAssertEqual(listed.first?.reason, "abuse")
        XCTAssertEqual(listed.first?.hits, 1)
        let table = try expctl(["acl", "list"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("127.0.0.2") && table.stdout.contains("abuse"), table.stdout)

        let check = try expctl(["acl", "check", "127.0.0.2"])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertEqual(check.stdout, "denied: 127.0.0.2 matches 127.0.0.2 exactly (manual entry, reason: abuse)\n")
        let open = try expctlJSON(ACLCheckResponse.self, ["acl", "check", "127.0.0.1"])
        XCTAssertEqual(open.decision, "allow")
        XCTAssertNil(open.entry)

        let again = try expctlJSON(ACLPutResponse.self, ["acl", "deny", "127.0.0.2", "--reason", "still"])
        XCTAssertTrue(again.replaced)

        let remove = try expctl(["acl", "remove", "127.0.0.2", "--reason", "appeal"])
        XCTAssertEqual(remove.status, 0, remove.stderr)
        XCTAssertEqual(remove.stdout, "removed: 127.0.0.2\n")
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.2"), 200)
        XCTAssertEqual(try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries, [])

        let audit = try expctlJSON(AuditResponse.self, ["audit"]).entries
        XCTAssertEqual(audit.map(\.action), ["acl deny", "acl deny", "acl remove"])
        XCTAssertEqual(audit.map(\.reason), ["abuse", "still", "appeal"])
        XCTAssertEqual(audit.map(\.arguments), ["127.0.0.2", "127.0.0.2", "127.0.0.2"])
        for record in audit {
            XCTAssertEqual(record.uid, Int64(getuid()))
            XCTAssertNotEqual(record.pid, Int64(getpid()), "the caller is expctl")
        }
    }

    func testMostSpecificEntryDecides() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        XCTAssertEqual(try expctl(["acl", "deny", "127.0.0.0/24"]).status, 0)
        XCTAssertEqual(try expctl(["acl", "allow", "127.0.0.2"]).status, 0)
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.2"), 200)
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.3"), 403)
        let check = try expctl(["acl", "check", "127.0.0.3"])
        XCTAssertEqual(check.stdout, "denied: 127.0.0.3 matches 127.0.0.0/24 most specifically (manual entry)\n")
    }
}
