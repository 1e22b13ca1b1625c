import ControlProtocol
import Foundation
import XCTest

/// The most specific entry decides, between config and operator entries alike; an operator's
/// entry overrides the config's entry for the same prefix until it is removed; `acl check`
/// names the deciding entry.
final class ACLSpecificityTests: ACLDaemonTestCase {
    func testAllowInsideDenyLetsOnlyThatAddressIn() throws {
        try startACLDaemon()
        try add("deny", "127.0.0.0/24", reason: "lab")
        try add("allow", "127.0.0.2")
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
        XCTAssertEqual(try status(from: "127.0.0.3"), 403)
        XCTAssertEqual(try status(from: "127.0.0.1"), 403)
        XCTAssertEqual(try status(from: "127.0.1.1"), 200, "outside the /24")

        let allowed = try check("127.0.0.2")
        XCTAssertEqual(allowed.decision, "allow")
        XCTAssertEqual(allowed.entry?.cidr, "127.0.0.2")
        XCTAssertTrue(allowed.explanation.contains("matches 127.0.0.2 exactly"), allowed.explanation)

        let denied = try check("127.0.0.3")
        XCTAssertEqual(denied.decision, "deny")
        XCTAssertEqual(denied.entry?.cidr, "127.0.0.0/24")
        XCTAssertEqual(denied.entry?.reason, "lab")
        XCTAssertTrue(denied.explanation.contains("127.0.0.0/24 most specifically"), denied.explanation)
        XCTAssertTrue(denied.explanation.contains("reason: lab"), denied.explanation)

        let outside = try check("127.0.1.1")
        XCTAssertEqual(outside.decision, "allow")
        XCTAssertNil(outside.entry)
        XCTAssertEqual(try check("::ffff:127.0.0.3").entry?.cidr, "127.0.0.0/24", "IPv4-mapped is IPv4")
    }

    func testConfigAllowInsideConfigDeny() throws {
        try startACLDaemon(acl: #""deny": ["127.0.0.0/30"], "allow": ["127.0.0.2"]"#)
        XCTAssertEqual(try status(from: "127.0.0.1"), 403)
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
        XCTAssertEqual(try status(from: "127.0.0.3"), 403)
        XCTAssertEqual(try status(from: "127.0.0.5"), 200)
        let listed = try entries()
        XCTAssertEqual(Set(listed.map(\.source)), ["config"])
        XCTAssertEqual(Set(listed.map(\.cidr)), ["127.0.0.0/30", "127.0.0.2"])
        XCTAssertEqual(try check("127.0.0.3").entry?.source, "config")
    }

    func testOperatorEntryOverridesTheConfigEntryUntilRemoved() throws {
        try startACLDaemon(acl: #""deny": ["127.0.0.2"]"#)
        XCTAssertEqual(try status(from: "127.0.0.2"), 403)
        try add("allow", "127.0.0.2", reason: "override")
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
        XCTAssertEqual(try entries().map { "\($0.cidr) \($0.action) \($0.source)" }, ["127.0.0.2 allow manual"])

        XCTAssertEqual(try remove("127.0.0.2").status, 200)
        XCTAssertEqual(try status(from: "127.0.0.2"), 403, "the config entry applies again")
        XCTAssertEqual(try entries().map { "\($0.cidr) \($0.action) \($0.source)" }, ["127.0.0.2 deny config"])
        assertError(try remove("127.0.0.2"), status: 404, code: "not_found", contains: "config")
        XCTAssertEqual(try status(from: "127.0.0.2"), 403)
    }
}
