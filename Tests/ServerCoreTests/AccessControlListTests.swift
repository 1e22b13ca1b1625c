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
        defer { access.stop() }
        let now = Date().timeIntervalSince1970
        try access.put(ACLEntry(cidr: CIDR("10.0.0.0/8")!, action: .allow, source: .manual, createdAt: now, expiresAt: now + 0.2), audit: audit)
        XCTAssertEqual(rows(access), ["10.0.0.0/8 allow manual"], "replaced while the operator's entry is active")
        XCTAssertEqual(decision(access, "10.1.1.1"), "allow manual")
        // The table in use already has the config entry behind it: it decides the moment the
        // operator's expires, not when the expiry timer has rebuilt the table.
        let snap = access.snapshot
        guard case .deny(let i) = snap.policy.decide(IPAddress("10.1.1.1")!, now: now + 0.2) else { return XCTFail("not denied at expiry") }
        XCTAssertEqual(snap.policy.entries[i].source, .config)
        XCTAssertLessThan(i, snap.hits.count, "its hits are counted: the counters grew with the table")

        XCTAssertTrue(waitUntil { decision(access, "10.1.1.1") == "deny config" }, "the config entry decides again")
        XCTAssertEqual(rows(access), ["10.0.0.0/8 deny config"], "and is listed again")
        XCTAssertEqual(rows(access, expired: true), ["10.0.0.0/8 deny config", "10.0.0.0/8 allow manual"])

        // The expired entry is kept in the store (for --expired): a restart agrees.
        let restarted = try AccessControl(settings: settings, store: store)
        defer { restarted.stop() }
        XCTAssertEqual(rows(restarted), ["10.0.0.0/8 deny config"])
        XCTAssertEqual(decision(restarted, "10.1.1.1"), "deny config")
    }

    /// Expired entries stay listed (`--expired`) for the retention period, then leave memory and
    /// the store while the daemon runs, not only at its next start; active and permanent ones stay.
    func testEntriesExpiredPastTheRetentionAreDroppedWhileRunning() throws {
        let store = InMemoryStateStore()
        let access = try AccessControl(settings: ACLSettings(), store: store)
        defer { access.stop() }
        let now = Date().timeIntervalSince1970
        try access.put(ACLEntry(cidr: CIDR("10.0.0.1")!, action: .deny, source: .manual, createdAt: now, expiresAt: now + 0.05), audit: audit)
        try access.put(ACLEntry(cidr: CIDR("10.0.0.2")!, action: .deny, source: .manual, createdAt: now, expiresAt: now + 30 * 86400), audit: audit)
        try access.put(ACLEntry(cidr: CIDR("10.0.0.3")!, action: .deny, source: .manual, createdAt: now), audit: audit)
        usleep(100_000)
        try access.pruneExpired(now: now + 86400)
        XCTAssertEqual(rows(access, expired: true).count, 3, "within the retention: still listed")
        try access.pruneExpired(now: now + AccessControl.retention + 1)
        XCTAssertEqual(rows(access, expired: true).sorted(), ["10.0.0.2 deny manual", "10.0.0.3 deny manual"])
        XCTAssertEqual(try store.aclEntries().map(\.cidr.description).sorted(), ["10.0.0.2", "10.0.0.3"])
        XCTAssertEqual(decision(access, "10.0.0.3"), "deny manual")
    }

    /// A request from `ip` counted as the dispatcher counts it.
    func hit(_ access: AccessControl, _ ip: String, times: Int = 1) {
        let snap = access.snapshot
        for _ in 0..<times {
            switch snap.policy.decide(IPAddress(ip)!, now: Date().timeIntervalSince1970) {
            case .noMatch: break
            case .allow(let i), .deny(let i): snap.hits.increment(i)
            }
        }
    }

    func hits(_ access: AccessControl) -> [String] {
        access.list(includeExpired: true).map { "\($0.entry.cidr) \($0.entry.action.rawValue) \($0.entry.source.rawValue) \($0.hits)" }
    }

    func manual(_ cidr: String, _ action: ACLEntry.Action) -> ACLEntry {
        ACLEntry(cidr: CIDR(cidr)!, action: action, source: .manual, createdAt: Date().timeIntervalSince1970)
    }

    func testANewOrReplacingEntryStartsWithNoHits() throws {
        var settings = ACLSettings()
        settings.deny = [CIDR("10.0.0.0/8")!]
        let access = try AccessControl(settings: settings, store: InMemoryStateStore())
        defer { access.stop() }
        hit(access, "10.1.1.1", times: 2)
        XCTAssertEqual(hits(access), ["10.0.0.0/8 deny config 2"])

        try access.put(manual("10.0.0.0/8", .allow), audit: audit)
        XCTAssertEqual(hits(access), ["10.0.0.0/8 allow manual 0"], "the config entry's hits are not the operator's entry's")
        hit(access, "10.1.1.1", times: 3)
        XCTAssertEqual(hits(access), ["10.0.0.0/8 allow manual 3"])
        try access.put(manual("10.0.0.0/8", .deny), audit: audit)
        XCTAssertEqual(hits(access), ["10.0.0.0/8 deny manual 0"], "an allow replaced by a deny")
        hit(access, "10.1.1.1")
        XCTAssertTrue(try access.remove(CIDR("10.0.0.0/8")!, audit: audit))
        XCTAssertEqual(hits(access), ["10.0.0.0/8 deny config 0"], "the config entry back in the slot")

        try access.put(manual("192.0.2.1", .deny), audit: audit)
        hit(access, "192.0.2.1", times: 4)
        XCTAssertTrue(try access.remove(CIDR("192.0.2.1")!, audit: audit))
        try access.put(manual("192.0.2.1", .deny), audit: audit)
        XCTAssertEqual(hits(access).last, "192.0.2.1 deny manual 0", "a fresh deny of a removed prefix")

        // A reload keeps an unchanged entry's hits and starts a changed one at 0.
        hit(access, "10.1.1.1", times: 2)
        hit(access, "192.0.2.1")
        access.apply(settings)
        XCTAssertEqual(hits(access), ["10.0.0.0/8 deny config 2", "192.0.2.1 deny manual 1"])
        var changed = settings
        changed.deny = []
        changed.allow = [CIDR("10.0.0.0/8")!]
        access.apply(changed)
        XCTAssertEqual(hits(access), ["10.0.0.0/8 allow config 0", "192.0.2.1 deny manual 1"])
    }

    /// One timer rebuilds the table at each expiry, whatever order the entries came in: one that
    /// expires sooner re-arms it, a later one leaves it.
    func testExpiriesInAnyOrderEachRebuildAtTheirTime() throws {
        let access = try AccessControl(settings: ACLSettings(), store: InMemoryStateStore())
        defer { access.stop() }
        let now = Date().timeIntervalSince1970
        func deny(_ ip: String, _ ttl: Double) throws {
            try access.put(ACLEntry(cidr: CIDR(ip)!, action: .deny, source: .manual, createdAt: now, expiresAt: now + ttl), audit: audit)
        }
        try deny("10.0.0.3", 0.9)
        XCTAssertEqual(access.nextExpiry, now + 0.9)
        try deny("10.0.0.1", 0.3)
        XCTAssertEqual(access.nextExpiry, now + 0.3, "sooner: re-armed")
        try deny("10.0.0.2", 0.6)
        try deny("10.0.0.4", 3600)
        XCTAssertEqual(access.nextExpiry, now + 0.3, "later: left as armed")
        XCTAssertEqual(access.snapshot.policy.entries.count, 4)
        XCTAssertTrue(waitUntil { access.snapshot.policy.entries.count == 3 })
        XCTAssertEqual(access.nextExpiry, now + 0.6)
        XCTAssertTrue(waitUntil { access.snapshot.policy.entries.count == 1 })
        XCTAssertEqual(access.nextExpiry, now + 3600)
        XCTAssertEqual(access.snapshot.policy.entries.map(\.cidr.description), ["10.0.0.4"])
    }

    /// The timers hold the access list until `stop`, then let it go.
    func testStopLetsTheAccessListGo() throws {
        weak var released: AccessControl?
        do {
            let access = try AccessControl(settings: ACLSettings(), store: InMemoryStateStore())
            let now = Date().timeIntervalSince1970
            try access.put(ACLEntry(cidr: CIDR("10.0.0.1")!, action: .deny, source: .manual, createdAt: now, expiresAt: now + 3600), audit: audit)
            released = access
            access.stop()
        }
        XCTAssertTrue(waitUntil { released == nil })
    }
}
