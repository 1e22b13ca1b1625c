import ControlProtocol
import Foundation
import XCTest

/// `expctl acl deny ADDR --ttl 2s`: refused until the TTL runs out, served after; the entry then
/// leaves `acl list` and shows under `acl list --expired`.
final class ACLTTLE2ETests: E2ETestCase {
    func testDenyWithTTLExpires() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        let before = Date().timeIntervalSince1970
        let r = try expctl(["acl", "deny", "127.0.0.2", "--ttl", "2s"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("added: deny 127.0.0.2 until "), r.stdout)
        let entry = try XCTUnwrap(try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries.first)
        let expiresAt = try XCTUnwrap(entry.expiresAt)
        XCTAssertEqual(expiresAt, before + 2, accuracy: 1.5)

        let first = try httpStatus(port: port, source: "127.0.0.2")
        if Date().timeIntervalSince1970 < expiresAt { XCTAssertEqual(first, 403, "refused before the TTL runs out") }
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.1"), 200)

        var servedAt = 0.0
        XCTAssertTrue(try waitUntil(timeout: 15) {
            let s = try httpStatus(port: port, source: "127.0.0.2")
            servedAt = Date().timeIntervalSince1970
            return s == 200
        }, "still refused long after the TTL")
        XCTAssertGreaterThanOrEqual(servedAt, expiresAt, "served only once the TTL ran out")

        XCTAssertEqual(try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries, [])
        let expired = try expctlJSON(ACLListResponse.self, ["acl", "list", "--expired"]).entries
        XCTAssertEqual(expired.map(\.cidr), ["127.0.0.2"])
        XCTAssertEqual(expired.first?.expired, true)
        XCTAssertTrue(try expctl(["acl", "list", "--expired"]).stdout.contains("expired "))
        XCTAssertTrue(try expctl(["acl", "check", "127.0.0.2"]).stdout.hasPrefix("no entry matches 127.0.0.2"))
    }
}
