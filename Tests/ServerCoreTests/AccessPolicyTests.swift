import XCTest

@testable import ServerCore

final class AccessPolicyTests: XCTestCase {
    func entry(_ cidr: String, _ action: ACLEntry.Action, source: ACLEntry.Source = .manual, expires: Double? = nil) -> ACLEntry {
        ACLEntry(cidr: CIDR(cidr)!, action: action, source: source, createdAt: 0, expiresAt: expires)
    }

    func decide(_ p: AccessPolicy, _ ip: String, now: Double = 0) -> String {
        switch p.decide(IPAddress(ip)!, now: now) {
        case .noMatch: return "none"
        case .allow(let i): return "allow \(p.entries[i].cidr)"
        case .deny(let i): return "deny \(p.entries[i].cidr)"
        }
    }

    func testMostSpecificEntryDecides() {
        let p = AccessPolicy(config: [entry("10.0.0.0/8", .deny, source: .config)], dynamic: [entry("10.1.2.3", .allow)])
        XCTAssertEqual(decide(p, "10.1.2.3"), "allow 10.1.2.3")
        XCTAssertEqual(decide(p, "10.1.2.4"), "deny 10.0.0.0/8")
        XCTAssertEqual(decide(p, "11.0.0.1"), "none")
        XCTAssertTrue(p.decide(IPAddress("11.0.0.1")!, now: 0).allows)
    }

    func testDynamicReplacesConfigOnSamePrefix() {
        let p = AccessPolicy(config: [entry("10.0.0.0/8", .deny, source: .config)], dynamic: [entry("10.0.0.0/8", .allow)])
        XCTAssertEqual(decide(p, "10.9.9.9"), "allow 10.0.0.0/8")
    }

    /// An operator's entry with a TTL in front of a config entry for the same prefix gives the
    /// prefix back to it the moment it expires, in the same table (no rebuild between).
    func testTheConfigEntryDecidesTheMomentTheOneInFrontOfItExpires() {
        let config = entry("0.0.0.0/0", .deny, source: .config)
        let built = AccessPolicy(config: [config, entry("127.0.0.99", .allow, source: .config)], dynamic: [entry("0.0.0.0/0", .allow, expires: 50)])
        let (inserted, _) = AccessPolicy(config: [config, entry("127.0.0.99", .allow, source: .config)])
            .inserting(entry("0.0.0.0/0", .allow, expires: 50), behind: config)
        for p in [built, inserted] {
            XCTAssertEqual(decide(p, "127.0.0.7", now: 49.999), "allow 0.0.0.0/0")
            XCTAssertEqual(decide(p, "127.0.0.7", now: 50), "deny 0.0.0.0/0", "the config's entry, at once")
            XCTAssertEqual(p.entries[p.table.longestMatchIndex(IPAddress("127.0.0.7")!, now: 50)!].source, .config)
            XCTAssertEqual(decide(p, "127.0.0.99", now: 50), "allow 127.0.0.99")
        }
        // Removed (tombstoned) with no config entry to fall back to: nothing behind it either.
        let (dynamicOnly, _) = AccessPolicy().inserting(entry("10.0.0.0/8", .deny, expires: 50), behind: entry("10.0.0.0/8", .allow, source: .config))
        XCTAssertEqual(decide(dynamicOnly.removing(CIDR("10.0.0.0/8")!, fallback: nil), "10.1.1.1", now: 60), "none")
        // Replaced by an entry with nothing behind it: the earlier one's is gone.
        let (replaced, _) = inserted.inserting(entry("0.0.0.0/0", .allow, expires: 50))
        XCTAssertEqual(decide(replaced, "127.0.0.7", now: 50), "none")
    }

    func testExpiredEntriesDoNotDecide() {
        let p = AccessPolicy(dynamic: [entry("10.0.0.0/8", .deny), entry("10.1.0.0/16", .allow, expires: 50)])
        XCTAssertEqual(decide(p, "10.1.1.1", now: 49), "allow 10.1.0.0/16")
        XCTAssertEqual(decide(p, "10.1.1.1", now: 50), "deny 10.0.0.0/8")
    }

    func testIPv6AndMapped() {
        let p = AccessPolicy(dynamic: [entry("2001:db8::/32", .deny), entry("192.0.2.0/24", .deny)])
        XCTAssertEqual(decide(p, "2001:db8:1::5"), "deny 2001:db8::/32")
        XCTAssertEqual(decide(p, "::ffff:192.0.2.7"), "deny 192.0.2.0/24")
        XCTAssertEqual(decide(p, "2001:db9::1"), "none")
    }

    func testInsertingAndRemovingIncrementally() {
        let base = AccessPolicy(config: [entry("10.0.0.0/8", .deny, source: .config)])
        let (added, index) = base.inserting(entry("10.0.0.0/8", .allow))
        XCTAssertEqual(added.entries[index].action, .allow)
        XCTAssertEqual(decide(added, "10.1.1.1"), "allow 10.0.0.0/8")
        XCTAssertEqual(decide(base, "10.1.1.1"), "deny 10.0.0.0/8", "the original is unchanged")
        // Removing the dynamic entry brings the config entry back.
        let removed = added.removing(CIDR("10.0.0.0/8")!, fallback: entry("10.0.0.0/8", .deny, source: .config))
        XCTAssertEqual(decide(removed, "10.1.1.1"), "deny 10.0.0.0/8")
        let (host, _) = base.inserting(entry("10.5.5.5", .allow))
        XCTAssertEqual(decide(host.removing(CIDR("10.5.5.5")!, fallback: nil), "10.5.5.5"), "deny 10.0.0.0/8")
    }

    func testClientAddressFromTrustedProxies() {
        let trusted = IPSet<Bool>([(CIDR("127.0.0.0/8")!, true), (CIDR("10.0.0.0/8")!, true)])
        let peer = IPAddress("127.0.0.1")!
        XCTAssertEqual(ClientAddress.resolve(peer: peer, forwardedFor: ["203.0.113.9, 10.0.0.2"], trusted: trusted), IPAddress("203.0.113.9"))
        XCTAssertEqual(ClientAddress.resolve(peer: peer, forwardedFor: ["198.51.100.1, 203.0.113.9"], trusted: trusted), IPAddress("203.0.113.9"),
                       "the rightmost untrusted hop, not the client-supplied leftmost")
        XCTAssertEqual(ClientAddress.resolve(peer: peer, forwardedFor: ["garbage"], trusted: trusted), peer)
        XCTAssertEqual(ClientAddress.resolve(peer: IPAddress("192.0.2.1")!, forwardedFor: ["203.0.113.9"], trusted: trusted), IPAddress("192.0.2.1"),
                       "an untrusted peer's header is ignored")
        XCTAssertEqual(ClientAddress.resolve(peer: peer, forwardedFor: [], trusted: trusted), peer)
        // Hops with ports and IPv6 brackets, as some proxies write them.
        for (hop, client) in [("203.0.113.9:5678", "203.0.113.9"), ("[2001:db8::6]", "2001:db8::6"), ("[2001:db8::6]:443", "2001:db8::6"),
                              ("2001:db8::6", "2001:db8::6"), ("[::ffff:203.0.113.9]:80", "203.0.113.9")] {
            XCTAssertEqual(ClientAddress.resolve(peer: peer, forwardedFor: ["\(hop), 10.0.0.2"], trusted: trusted), IPAddress(client), hop)
        }
        for bad in ["203.0.113.9:", "203.0.113.9:123456", "203.0.113.9:80:80", "[203.0.113.9]", "[2001:db8::6", "[2001:db8::6]x",
                    "[2001:db8::6]:", "203.0.113.9:8a", "host:80", "010.0.0.1:80"] {
            XCTAssertEqual(ClientAddress.resolve(peer: peer, forwardedFor: ["\(bad), 10.0.0.2"], trusted: trusted), IPAddress("10.0.0.2"),
                           "malformed: the walk ends at the last trusted hop: \(bad)")
        }
    }

    func testAutoBanWindow() {
        let ban = AutoBan(settings: AutoBanSettings(windowMs: 1000, maxRequests: 3, max4xx: 2, banMs: 60_000))
        let a = IPAddress("192.0.2.1")!
        XCTAssertNil(ban.record(a, is4xx: false, now: 0))
        XCTAssertNil(ban.record(a, is4xx: false, now: 0.1))
        XCTAssertNil(ban.record(a, is4xx: false, now: 0.2))
        XCTAssertNotNil(ban.record(a, is4xx: false, now: 0.3), "the 4th request in the window crosses max_requests")
        XCTAssertNil(ban.record(a, is4xx: false, now: 0.4), "reported once per window")
        XCTAssertNil(ban.record(a, is4xx: false, now: 1.5), "a new window starts")
        let b = IPAddress("192.0.2.2")!
        XCTAssertNil(ban.record(b, is4xx: true, now: 0))
        XCTAssertNil(ban.record(b, is4xx: true, now: 0))
        XCTAssertTrue(ban.record(b, is4xx: true, now: 0)?.contains("4xx") ?? false)
    }

    /// At the table's cap a new client takes the place of the least recently seen one: a flood of
    /// one-request clients (ten times the cap, all within the window) never wipes the count of a
    /// client that keeps coming (here once every 400 newcomers, a 4xx every eighth time).
    func testAutoBanCountsSurviveAFloodOfNewClients() {
        let ban = AutoBan(settings: AutoBanSettings(windowMs: 60_000, max4xx: 3, banMs: 60_000), maxClients: 1000)
        let abuser = IPAddress("192.0.2.1")!
        var now = 0.0
        for step in 0..<25 {
            now += 0.001
            let reason = ban.record(abuser, is4xx: step % 8 == 0, now: now)
            XCTAssertEqual(reason != nil, step == 24, "step \(step): the fourth 4xx bans")
            for i in 0..<400 {
                now += 0.000_001
                XCTAssertNil(ban.record(IPAddress(ipv4: 0x0A00_0000 + UInt32(step * 400 + i)), is4xx: true, now: now))
            }
        }
    }
}
