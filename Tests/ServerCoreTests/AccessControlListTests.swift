import Foundation
import XCTest

@testable import ServerCore

/// The live list (`AccessControl`): what `acl list` shows and what decides, as dynamic entries
/// come, replace config entries and expire.
final class AccessControlListTests: XCTestCase {
    let audit = AuditRecord(time: 0, uid: nil, pid: nil, action: "acl", arguments: "", result: "ok", reason: nil)

    func rows(_ access: AccessControl, expired: Bool = false) -> [String] {
        access.list(includeExpired: expired).map { "\($0.entry.cidr) \($0.entry.action.rawValue) \($0.entry.source.rawValue)" }
    }

    func decision(_ access: AccessControl, _ ip: String) -> String {
        let snap = access.snapshot
        switch snap.policy.decide(IPAddress(ip)!, now: Date().timeIntervalSince1970) {
        case .noMatch: return "none"
        case .allow(let i), .deny(let i): return "\(snap.policy.entries[i].action.rawValue) \(snap.policy.entries[i].source.rawValue)"
        }
    }

    func waitUntil(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while !condition() {
            if Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    func testAConfigEntryComesBackOnceTheDynamicEntryForItsPrefixExpires() throws {
        var settings = ACLSettings()
        settings.deny = [CIDR("10.0.0.0/8")!]
        let store = InMemoryStateStore()
        let access = try AccessControl(settings: settings, store: store)
        let now = Date().timeIntervalSince1970
        try access.put(ACLEntry(cidr: CIDR("10.0.0.0/8")!, action: .allow, source: .manual, createdAt: now, expiresAt: now + 0.2), audit: audit)
        XCTAssertEqual(rows(access), ["10.0.0.0/8 allow manual"], "replaced while the operator's entry is active")
        XCTAssertEqual(decision(access, "10.1.1.1"), "allow manual")

        XCTAssertTrue(waitUntil { decision(access, "10.1.1.1") == "deny config" }, "the config entry decides again")
        XCTAssertEqual(rows(access), ["10.0.0.0/8 deny config"], "and is listed again")
        XCTAssertEqual(rows(access, expired: true), ["10.0.0.0/8 deny config", "10.0.0.0/8 allow manual"])

        // The expired entry is kept in the store (for --expired): a restart agrees.
        let restarted = try AccessControl(settings: settings, store: store)
        XCTAssertEqual(rows(restarted), ["10.0.0.0/8 deny config"])
        XCTAssertEqual(decision(restarted, "10.1.1.1"), "deny config")
    }
}
