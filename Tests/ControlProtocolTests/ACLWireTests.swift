import ControlProtocol
import Foundation
import XCTest

/// `/v1/acl` entries: every key of the schema is present, nil values as null (a config entry has
/// no `created_at`, an entry without TTL no `expires_at`); decoding still accepts them left out.
final class ACLWireTests: XCTestCase {
    func testEntryKeysAreAlwaysPresent() throws {
        let entry = ACLEntryInfo(cidr: "10.0.0.0/8", action: "deny", source: "config", createdAt: nil, expiresAt: nil,
                                 expired: false, reason: nil, createdBy: nil, hits: 3)
        let object = try WireJSON.assertRoundTrip(entry, keys: [
            "cidr", "action", "source", "created_at", "expires_at", "expired", "reason", "created_by", "hits",
        ])
        for key in ["created_at", "expires_at", "reason", "created_by"] {
            XCTAssertTrue(object[key] is NSNull, "\(key): null, not left out")
        }
        let timed = ACLEntryInfo(cidr: "1.2.3.4", action: "deny", source: "manual", createdAt: 10, expiresAt: 70,
                                 expired: false, reason: "scan", createdBy: 0, hits: 0)
        XCTAssertEqual(try WireJSON.assertRoundTrip(timed, keys: Set(object.keys))["expires_at"] as? Double, 70)
    }

    /// `/v1/acl/check` for an address no entry decides: `entry` is null, not left out.
    func testCheckWithoutAnEntryHasANullEntry() throws {
        let check = ACLCheckResponse(ip: "1.2.3.4", decision: "allow", entry: nil, explanation: "no entry matches")
        let object = try WireJSON.assertRoundTrip(check, keys: ["ip", "decision", "entry", "explanation"])
        XCTAssertTrue(object["entry"] is NSNull, "null, not left out")
    }

    func testEntryWithoutOptionalKeysStillDecodes() throws {
        let old = #"{"cidr":"10.0.0.0/8","action":"deny","source":"config","expired":false,"hits":0}"#
        let entry = try JSONDecoder().decode(ACLEntryInfo.self, from: Data(old.utf8))
        XCTAssertNil(entry.expiresAt)
        XCTAssertNil(entry.createdAt)
    }
}
