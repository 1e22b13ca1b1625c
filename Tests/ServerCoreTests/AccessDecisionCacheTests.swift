import XCTest

@testable import ServerCore

/// A connection's memo of the global decision (`AccessDecisionCache`) must follow every change
/// to the list, even when a new snapshot is allocated where a freed one was (which the
/// allocator does almost every time in this loop).
final class AccessDecisionCacheTests: XCTestCase {
    let audit = AuditRecord(time: 0, uid: nil, pid: nil, action: "acl", arguments: "", result: "ok", reason: nil)

    func deny(_ cidr: CIDR, _ round: Int) -> ACLEntry {
        ACLEntry(cidr: cidr, action: .deny, source: .manual, createdAt: Double(round))
    }

    func testMemoFollowsTwoChangesBetweenLookups() throws {
        let access = try AccessControl(settings: ACLSettings(), store: InMemoryStateStore())
        defer { access.stop() }
        let client = IPAddress("127.0.0.2")!
        let (target, other) = (CIDR("127.0.0.2")!, CIDR("127.0.0.9")!)
        var cache = AccessDecisionCache()
        for round in 0..<200 {
            _ = cache.decision(for: client, in: access.snapshot)
            // An unrelated change (its snapshot is freed by the next), then one that flips the decision.
            if round % 2 == 0 { try access.put(deny(other, round), audit: audit) } else { _ = try access.remove(other, audit: audit) }
            if access.hasDynamicEntry(target) { _ = try access.remove(target, audit: audit) } else { try access.put(deny(target, round), audit: audit) }
            let snap = access.snapshot
            XCTAssertEqual(cache.decision(for: client, in: snap), snap.policy.decide(client, now: Date().timeIntervalSince1970), "round \(round)")
        }
    }
}
