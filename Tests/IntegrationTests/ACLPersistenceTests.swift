import ControlProtocol
import Foundation
import XCTest

/// Operator entries are committed to the state db: a restart on the same db and a config reload
/// both keep them (and keep applying them); removed and expired entries stay gone.
final class ACLPersistenceTests: ACLDaemonTestCase {
    /// What must survive: everything but the hit counts.
    func durable(_ entries: [ACLEntryInfo]) -> [ACLEntryInfo] {
        entries.map { var e = $0; e.hits = 0; return e }
    }

    func addThree() throws {
        try add("deny", "127.0.0.2", reason: "abuse")
        try add("allow", "127.0.0.3", ttl: 3600, reason: "contractor")
        try add("deny", "2001:db8::/48")
    }

    func testRestartOnTheSameStateDBKeepsTheEntries() throws {
        try startACLDaemon()
        try addThree()
        let before = try entries()
        XCTAssertEqual(before.count, 3)
        let records = try audit()

        try restartDaemon()
        XCTAssertEqual(durable(try entries()), durable(before))
        XCTAssertEqual(try status(from: "127.0.0.2"), 403)
        XCTAssertEqual(try status(from: "127.0.0.1"), 200)
        XCTAssertEqual(try check("127.0.0.3").entry?.reason, "contractor")
        XCTAssertEqual(try audit(), records)
    }

    func testReloadKeepsTheEntries() throws {
        try startACLDaemon()
        try addThree()
        let before = try entries()
        XCTAssertEqual(try control("POST", Endpoint.reload, body: #"{"reason":"same config"}"#).status, 200)
        XCTAssertEqual(durable(try entries()), durable(before))
        XCTAssertEqual(try status(from: "127.0.0.2"), 403)

        // A reload that changes the config's acl block keeps the operator's entries beside it.
        try writeConfig(aclConfigJSON(acl: #""deny": ["127.0.0.4"]"#))
        XCTAssertEqual(try control("POST", Endpoint.reload, body: #"{"reason":"new acl"}"#).status, 200)
        XCTAssertEqual(try status(from: "127.0.0.4"), 403)
        XCTAssertEqual(try status(from: "127.0.0.2"), 403)
        XCTAssertEqual(try status(from: "127.0.0.1"), 200)
        XCTAssertEqual(durable(try entries().filter { $0.source == "manual" }), durable(before))
        XCTAssertEqual(try entry("127.0.0.4")?.source, "config")
    }

    func testRemovedAndExpiredEntriesStayGoneAfterARestart() throws {
        try startACLDaemon()
        try add("deny", "127.0.0.2")
        try add("deny", "127.0.0.3", ttl: 1)
        XCTAssertEqual(try remove("127.0.0.2").status, 200)
        XCTAssertTrue(try pollUntil(timeout: 10) { try status(from: "127.0.0.3") == 200 })

        try restartDaemon()
        XCTAssertEqual(try entries(), [])
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
        XCTAssertEqual(try status(from: "127.0.0.3"), 200)
    }

    func testTTLKeepsRunningAcrossARestart() throws {
        try startACLDaemon()
        let expiresAt = try XCTUnwrap(try add("deny", "127.0.0.2", ttl: 2).entry.expiresAt)
        try restartDaemon()
        XCTAssertEqual(try entry("127.0.0.2")?.expiresAt, expiresAt, "the deadline, not the duration, is kept")
        if let refused = try status(from: "127.0.0.2", answeredBefore: expiresAt) { XCTAssertEqual(refused, 403) }
        XCTAssertTrue(try pollUntil(timeout: 10) { try status(from: "127.0.0.2") == 200 })
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince1970, expiresAt, "let in only once it ran out")
    }
}
