import ControlProtocol
import Foundation
import XCTest

/// `POST /v1/acl` and `/v1/acl/remove` against clients on 127.0.0.x: an entry applies from the
/// next request, only to the addresses it covers; adding an existing prefix replaces it; entries
/// count their hits; every change is in the audit log with its reason.
final class ACLDenyAllowTests: ACLDaemonTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try startACLDaemon()
    }

    func testDenyBlocksThatAddressOnItsNextRequestWhileOthersAreServed() throws {
        for source in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
            XCTAssertEqual(try status(from: source), 200, source)
        }
        let reply = try add("deny", "127.0.0.2", reason: "abuse")
        XCTAssertFalse(reply.replaced)
        XCTAssertEqual(reply.entry.cidr, "127.0.0.2")
        XCTAssertEqual(reply.entry.action, "deny")
        XCTAssertEqual(reply.entry.source, "manual")
        XCTAssertEqual(reply.entry.reason, "abuse")
        XCTAssertEqual(reply.entry.createdBy, Int64(getuid()))
        XCTAssertNil(reply.entry.expiresAt)
        XCTAssertFalse(reply.entry.expired)

        XCTAssertEqual(try status(from: "127.0.0.2"), 403)
        XCTAssertEqual(try status(from: "127.0.0.2", "/no-such-file"), 403, "denied before the route's 404")
        XCTAssertEqual(try status(from: "127.0.0.1"), 200)
        XCTAssertEqual(try status(from: "127.0.0.3"), 200)
    }

    func testRemoveLetsTheAddressInAgain() throws {
        try add("deny", "127.0.0.2")
        XCTAssertEqual(try status(from: "127.0.0.2"), 403)
        let r = try remove("127.0.0.2", reason: "appeal granted")
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(try r.json(ACLRemoveResponse.self).removed, "127.0.0.2")
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
        XCTAssertEqual(try entries(), [])
        XCTAssertEqual(try check("127.0.0.2").decision, "allow")
        XCTAssertNil(try check("127.0.0.2").entry)
    }

    func testAddingAnExistingPrefixReplacesIt() throws {
        XCTAssertFalse(try add("deny", "127.0.0.2", reason: "first").replaced)
        XCTAssertEqual(try status(from: "127.0.0.2"), 403)
        let second = try add("allow", "127.0.0.2", reason: "second")
        XCTAssertTrue(second.replaced)
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
        let listed = try entries()
        XCTAssertEqual(listed.map(\.cidr), ["127.0.0.2"], "one entry per prefix")
        XCTAssertEqual(listed.first?.action, "allow")
        XCTAssertEqual(listed.first?.reason, "second")
        // The same prefix written differently is the same entry.
        XCTAssertTrue(try add("deny", "127.0.0.2/32").replaced)
        XCTAssertEqual(try entries().map(\.cidr), ["127.0.0.2"])
        XCTAssertEqual(try status(from: "127.0.0.2"), 403)
    }

    func testEntriesCountTheirHits() throws {
        try add("deny", "127.0.0.2")
        try add("allow", "127.0.0.1")
        for _ in 0..<3 { XCTAssertEqual(try status(from: "127.0.0.2"), 403) }
        for _ in 0..<2 { XCTAssertEqual(try status(from: "127.0.0.1"), 200) }
        XCTAssertEqual(try status(from: "127.0.0.3"), 200, "matches no entry")
        XCTAssertEqual(try entry("127.0.0.2")?.hits, 3)
        XCTAssertEqual(try entry("127.0.0.1")?.hits, 2)
        XCTAssertEqual(try check("127.0.0.2").entry?.hits, 3)
    }

    func testEveryChangeIsAuditedWithItsReason() throws {
        try add("deny", "127.0.0.2", ttl: 60, reason: "scraping")
        try add("allow", "127.0.0.0/30", reason: "office")
        XCTAssertEqual(try remove("127.0.0.2", reason: "done").status, 200)
        let records = try audit()
        XCTAssertEqual(records.map(\.action), ["acl deny", "acl allow", "acl remove"])
        XCTAssertEqual(records.map(\.arguments), ["127.0.0.2 ttl=60s", "127.0.0.0/30", "127.0.0.2"])
        XCTAssertEqual(records.map(\.reason), ["scraping", "office", "done"])
        for record in records {
            XCTAssertEqual(record.result, "ok")
            XCTAssertEqual(record.uid, Int64(getuid()))
            XCTAssertEqual(record.pid, Int64(getpid()))
        }
    }
}
