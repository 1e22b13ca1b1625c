import ControlProtocol
import Foundation
import XCTest
@testable import ServerCore

/// The global list is checked again on every request, so a change made while a keep-alive
/// connection is open applies to that connection's next request (`deny_action: "403"`).
final class ACLKeepAliveTests: ACLDaemonTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try startACLDaemon()
    }

    func next(_ client: RawClient) throws -> Int {
        try client.send(Self.get(keepAlive: true))
        return try client.readResponse().status
    }

    func testEntryAddedWhileConnectedAppliesToTheNextRequest() throws {
        let denied = try connect(from: "127.0.0.2")
        let other = try connect(from: "127.0.0.1")
        XCTAssertEqual(try next(denied), 200)
        XCTAssertEqual(try next(other), 200)

        try add("deny", "127.0.0.2")
        XCTAssertEqual(try next(denied), 403, "the same connection's next request")
        XCTAssertEqual(try next(denied), 403, "a 403 keeps the connection open")
        XCTAssertEqual(try next(other), 200)

        XCTAssertEqual(try remove("127.0.0.2").status, 200)
        XCTAssertEqual(try next(denied), 200, "removal applies to the next request too")
        XCTAssertEqual(try entries(), [])
    }

    func testWideningEntryAppliesToTheNextRequest() throws {
        let client = try connect(from: "127.0.0.3")
        XCTAssertEqual(try next(client), 200)
        try add("deny", "127.0.0.0/24")
        XCTAssertEqual(try next(client), 403)
        try add("allow", "127.0.0.3")
        XCTAssertEqual(try next(client), 200)
    }

    /// Several changes between two requests: the connection's memo of the decision must never
    /// outlive the list it was made from, however the snapshots are allocated.
    func testNoChangeIsMissedAcrossManyChanges() throws {
        let client = try connect(from: "127.0.0.2")
        var denied = false
        for round in 0..<40 {
            XCTAssertEqual(try next(client), denied ? 403 : 200, "round \(round)")
            // An unrelated change, then one that flips the decision for 127.0.0.2.
            if round % 2 == 0 { try add("deny", "127.0.0.9") } else { XCTAssertEqual(try remove("127.0.0.9").status, 200) }
            if denied { XCTAssertEqual(try remove("127.0.0.2").status, 200) } else { try add("deny", "127.0.0.2") }
            denied.toggle()
        }
        XCTAssertEqual(try next(client), denied ? 403 : 200)
    }

    /// The same with changes made straight on the daemon's `AccessControl` (as auto-ban makes
    /// them): nothing is allocated between two snapshots, so a new one usually takes the freed
    /// one's address, and a memo keyed by identity would answer from the old list.
    func testNoChangeIsMissedWhenSnapshotsReuseAddresses() throws {
        let access = try XCTUnwrap(daemon).access
        let audit = AuditRecord(time: 0, uid: nil, pid: nil, action: "acl", arguments: "", result: "ok", reason: nil)
        func deny(_ text: String) throws {
            try access.put(ACLEntry(cidr: CIDR(text)!, action: .deny, source: .manual, createdAt: Date().timeIntervalSince1970), audit: audit)
        }
        let client = try connect(from: "127.0.0.2")
        var denied = false
        for round in 0..<40 {
            XCTAssertEqual(try next(client), denied ? 403 : 200, "round \(round)")
            if round % 2 == 0 { try deny("127.0.0.9") } else { _ = try access.remove(CIDR("127.0.0.9")!, audit: audit) }
            if denied { _ = try access.remove(CIDR("127.0.0.2")!, audit: audit) } else { try deny("127.0.0.2") }
            denied.toggle()
        }
    }
}
