import ControlProtocol
import Foundation
import XCTest

/// Entries with a TTL stop applying when it runs out, on fresh and kept-alive connections alike,
/// and leave the list (`?expired=1` still shows them, marked expired).
final class ACLExpiryTests: ACLDaemonTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try startACLDaemon()
    }

    func testDenyExpiresAtItsTTL() throws {
        let before = Date().timeIntervalSince1970
        let reply = try add("deny", "127.0.0.2", ttl: 1)
        let expiresAt = try XCTUnwrap(reply.entry.expiresAt)
        XCTAssertEqual(expiresAt, before + 1, accuracy: 0.5)
        if let refused = try status(from: "127.0.0.2", answeredBefore: expiresAt) { XCTAssertEqual(refused, 403) }

        var servedAt = 0.0
        XCTAssertTrue(try pollUntil(timeout: 10) {
            let s = try status(from: "127.0.0.2")
            servedAt = Date().timeIntervalSince1970
            return s == 200
        }, "the entry never expired")
        XCTAssertGreaterThanOrEqual(servedAt, expiresAt, "served only once the TTL ran out")

        XCTAssertEqual(try entries(), [])
        let expired = try entries(expired: true)
        XCTAssertEqual(expired.map(\.cidr), ["127.0.0.2"])
        XCTAssertEqual(expired.first?.expired, true)
        XCTAssertNil(try check("127.0.0.2").entry)
    }

    func testKeptAliveConnectionSeesTheExpiry() throws {
        let client = try connect(from: "127.0.0.2")
        try add("deny", "127.0.0.2", ttl: 1)
        XCTAssertTrue(try pollUntil(timeout: 10) {
            try client.send(Self.get(keepAlive: true))
            return try client.readResponse().status == 200
        }, "the connection's memo of the decision outlived the entry")
    }

    func testExpiredAllowFallsBackToTheWiderDeny() throws {
        try add("deny", "127.0.0.0/24")
        let expiresAt = try XCTUnwrap(try add("allow", "127.0.0.2", ttl: 1).entry.expiresAt)
        if let served = try status(from: "127.0.0.2", answeredBefore: expiresAt) { XCTAssertEqual(served, 200) }
        XCTAssertTrue(try pollUntil(timeout: 10) { try status(from: "127.0.0.2") == 403 })
        XCTAssertEqual(try check("127.0.0.2").entry?.cidr, "127.0.0.0/24")
    }
}
