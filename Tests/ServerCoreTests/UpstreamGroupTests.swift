import XCTest

@testable import ServerCore

/// `UpstreamGroup.pick`: which upstreams are candidates (admin state, health, weight, backups,
/// already tried) around the pure policies.
final class UpstreamGroupTests: XCTestCase {
    let now = 1_000_000.0

    func upstream(_ port: Int, weight: Int = 1, maxFails: Int = 1, backup: Bool = false) -> XPSConfig.Upstream {
        XPSConfig.Upstream(host: "127.0.0.1", port: port, weight: weight, maxFails: maxFails, failTimeoutMs: 10_000, backup: backup)
    }

    func group(_ upstreams: [XPSConfig.Upstream], _ policy: LoadBalancing = .roundRobin,
               registry: UpstreamRegistry = UpstreamRegistry()) -> UpstreamGroup {
        UpstreamGroup(upstreams: upstreams, policy: policy, registry: registry)
    }

    func picks(_ g: UpstreamGroup, _ n: Int, client: String? = nil, excluding: Set<Int> = [], at time: Double? = nil) -> [Int?] {
        (0..<n).map { _ in g.pick(client: client.flatMap(IPAddress.init), excluding: .init(excluding), now: time ?? now) }
    }

    func testRoundRobinThroughTheGroup() {
        XCTAssertEqual(picks(group([upstream(1), upstream(2), upstream(3)]), 6), [0, 1, 2, 0, 1, 2])
        XCTAssertEqual(picks(group([upstream(1, weight: 5), upstream(2), upstream(3)]), 7), [0, 0, 1, 0, 2, 0, 0])
    }

    func testWeightZeroIsNeverPicked() {
        let g = group([upstream(1), upstream(2), upstream(3)])
        g.members[1].state.set(weight: .some(0))
        XCTAssertEqual(g.members[1].weight, 0)
        XCTAssertFalse(picks(g, 30).contains(1))
        XCTAssertEqual(Set(picks(g, 30).compactMap { $0 }), [0, 2])
        // A configured weight of 0 behaves the same; all at 0 means nothing to pick.
        let zero = group([upstream(1, weight: 0), upstream(2, weight: 0)])
        XCTAssertEqual(picks(zero, 3), [nil, nil, nil])
        // Clearing the override restores the config's weight.
        g.members[1].state.set(weight: .some(nil))
        XCTAssertEqual(Set(picks(g, 30).compactMap { $0 }), [0, 1, 2])
    }

    func testOperatorWeightOverridesTheConfig() {
        let g = group([upstream(1), upstream(2)])
        g.members[0].state.set(weight: .some(3))
        let counts = picks(g, 400).reduce(into: [0, 0]) { $0[$1!] += 1 }
        XCTAssertEqual(counts, [300, 100])
    }

    func testDrainingAndDisabledMembersAreSkipped() {
        let g = group([upstream(1), upstream(2), upstream(3)])
        g.members[0].state.set(admin: .draining)
        g.members[2].state.set(admin: .disabled)
        XCTAssertEqual(picks(g, 5), [1, 1, 1, 1, 1])
        g.members[1].state.set(admin: .draining)
        XCTAssertEqual(picks(g, 2), [nil, nil], "nothing is available")
        g.members[0].state.set(admin: .active)
        XCTAssertEqual(picks(g, 2), [0, 0])
    }

    func testPassiveHealthMarksDownAfterMaxFails() {
        let g = group([upstream(1, maxFails: 2), upstream(2)])
        let state = g.members[0].state
        state.recordFailure(now: now, maxFails: 2, failTimeout: 10)
        XCTAssertTrue(state.isAvailable(now: now), "one failure of two allowed")
        XCTAssertEqual(picks(g, 2), [0, 1])
        state.recordFailure(now: now + 1, maxFails: 2, failTimeout: 10)
        XCTAssertFalse(state.isAvailable(now: now + 1))
        XCTAssertEqual(state.stateName(now: now + 1), "down")
        XCTAssertEqual(picks(g, 4, at: now + 1), [1, 1, 1, 1])
        // Down for fail_timeout, then back.
        XCTAssertEqual(Set(picks(g, 4, at: now + 12).compactMap { $0 }), [0, 1])
        XCTAssertEqual(state.failures.load(ordering: .relaxed), 2)
    }

    func testFailuresOutsideTheWindowDoNotAddUp() {
        let state = group([upstream(1, maxFails: 2)]).members[0].state
        state.recordFailure(now: now, maxFails: 2, failTimeout: 10)
        state.recordFailure(now: now + 11, maxFails: 2, failTimeout: 10)
        XCTAssertTrue(state.isAvailable(now: now + 11))
    }

    func testMaxFailsZeroNeverMarksDown() {
        let state = group([upstream(1, maxFails: 0)]).members[0].state
        for i in 0..<10 { state.recordFailure(now: now + Double(i), maxFails: 0, failTimeout: 10) }
        XCTAssertTrue(state.isAvailable(now: now + 10))
        XCTAssertEqual(state.failures.load(ordering: .relaxed), 10)
    }

    func testActiveChecksFallAndRise() {
        let g = group([upstream(1), upstream(2)])
        let state = g.members[0].state
        state.recordCheck(ok: false, now: now, fall: 2, rise: 2)
        XCTAssertTrue(state.isAvailable(now: now))
        state.recordCheck(ok: false, now: now, fall: 2, rise: 2)
        XCTAssertFalse(state.isAvailable(now: now))
        XCTAssertEqual(picks(g, 3), [1, 1, 1])
        state.recordCheck(ok: true, now: now, fall: 2, rise: 2)
        XCTAssertFalse(state.isAvailable(now: now), "rise needs two successes")
        state.recordCheck(ok: true, now: now, fall: 2, rise: 2)
        XCTAssertTrue(state.isAvailable(now: now))
        XCTAssertEqual(state.healthTransitions, 2)
    }

    func testBackupsOnlyWhenNoPrimaryIsAvailable() {
        let g = group([upstream(1), upstream(2, backup: true), upstream(3)])
        XCTAssertFalse(picks(g, 20).contains(1), "primaries are available")
        g.members[0].state.set(admin: .disabled)
        XCTAssertEqual(picks(g, 3), [2, 2, 2])
        g.members[2].state.set(admin: .draining)
        XCTAssertEqual(picks(g, 3), [1, 1, 1], "the backup takes over")
        g.members[2].state.set(admin: .active)
        XCTAssertEqual(picks(g, 2), [2, 2], "back to the primary at once")
    }

    func testTriedMembersAreExcludedThenBackups() {
        let g = group([upstream(1), upstream(2), upstream(3, backup: true)])
        XCTAssertEqual(picks(g, 3, excluding: [0]), [1, 1, 1])
        XCTAssertEqual(picks(g, 2, excluding: [0, 1]), [2, 2], "both primaries tried: the backup")
        XCTAssertEqual(picks(g, 1, excluding: [0, 1, 2]), [nil])
    }

    /// The upstream ip_hash gives `ip` among the group's available members, from the pure policy.
    func expected(_ g: UpstreamGroup, _ ip: String, available: [Int]) -> Int {
        var b = Balancer(policy: .ipHash, count: g.members.count)
        let list = available.map { Candidate(index: $0, weight: g.members[$0].weight, inFlight: 0, key: Balancer.upstreamKey(g.members[$0].config.address)) }
        return b.pick(list, clientHash: Balancer.clientHash(IPAddress(ip)!))
    }

    func testIPHashThroughTheGroupIsStableAndMovesOnlyItsOwnClients() {
        let g = group([upstream(1), upstream(2), upstream(3)], .ipHash)
        // A client of each upstream.
        let clients = (0..<3).map { s in (1...255).map { "127.0.0.\($0)" }.first { expected(g, $0, available: [0, 1, 2]) == s }! }
        for (s, ip) in clients.enumerated() { XCTAssertEqual(Set(picks(g, 10, client: ip)), [s], ip) }
        g.members[2].state.set(admin: .disabled)
        XCTAssertEqual(Set(picks(g, 10, client: clients[2])), [expected(g, clients[2], available: [0, 1])], "its upstream is gone: its second choice")
        XCTAssertEqual(Set(picks(g, 10, client: clients[0])), [0], "unmoved")
        XCTAssertEqual(Set(picks(g, 10, client: clients[1])), [1], "unmoved")
        let two = group([upstream(1), upstream(2)], .ipHash)
        XCTAssertEqual(Set(picks(two, 10, client: "127.0.0.1")).count, 1, "compat L3: one client, one upstream")
    }

    /// Weights count (the operator's override included): a weight-3 upstream beside a weight-1
    /// one gets about three quarters of the clients.
    func testIPHashFollowsTheEffectiveWeights() {
        let g = group([upstream(1), upstream(2)], .ipHash)
        g.members[0].state.set(weight: .some(3))
        var counts = [0, 0]
        for i in 0..<1000 { counts[picks(g, 1, client: "10.0.\(i >> 8).\(i & 255)")[0] ?? 0] += 1 }
        XCTAssertEqual(Double(counts[0]), 750, accuracy: 60, "\(counts)")
    }

    /// Backups do not change which primary a client gets, and share the clients among themselves
    /// when they are in use.
    func testIPHashWithBackups() {
        let g = group([upstream(1), upstream(2), upstream(3, backup: true)], .ipHash)
        let plain = group([upstream(1), upstream(2)], .ipHash)
        var counts = [0, 0]
        for i in 1...200 {
            let client = "\(i).1.2.3"
            let pick = picks(g, 1, client: client)[0]
            XCTAssertEqual(pick, picks(plain, 1, client: client)[0], client)
            counts[pick ?? 0] += 1
        }
        XCTAssertGreaterThan(min(counts[0], counts[1]), 70, "an even spread over the two primaries: \(counts)")
        let backups = group([upstream(1), upstream(2, backup: true), upstream(3, backup: true)], .ipHash)
        backups.members[0].state.set(admin: .disabled)
        var seen = Set<Int>()
        for i in 1...50 { seen.insert(picks(backups, 1, client: "\(i).1.2.3")[0] ?? -1) }
        XCTAssertEqual(seen, [1, 2], "both backups get clients")
    }

    /// Two routes that list the same upstreams in another order send a client to the same one.
    func testIPHashFollowsAddressesNotListOrder() {
        let a = group([upstream(1), upstream(2), upstream(3)], .ipHash)
        let b = group([upstream(3), upstream(1), upstream(2)], .ipHash)
        for i in 1...100 {
            let ip = "10.9.8.\(i)"
            let pa = picks(a, 1, client: ip)[0].map { a.members[$0].config.address }
            let pb = picks(b, 1, client: ip)[0].map { b.members[$0].config.address }
            XCTAssertEqual(pa, pb, ip)
        }
    }

    /// Effective weight: what new requests see now. A backup's is 0 while a primary takes them.
    func testEffectiveWeight() {
        let g = group([upstream(1, weight: 3), upstream(2), upstream(3, weight: 2, backup: true)])
        func weights() -> [Int] { g.members.map { g.effectiveWeight($0, now: now) } }
        XCTAssertEqual(weights(), [3, 1, 0], "the backup stands by")
        g.members[0].state.set(admin: .draining)
        XCTAssertEqual(weights(), [0, 1, 0])
        g.members[1].state.set(weight: .some(0))
        XCTAssertEqual(weights(), [0, 0, 2], "no primary takes requests: the backup does")
        g.members[1].state.set(weight: .some(nil))
        XCTAssertEqual(weights(), [0, 1, 0])
    }

    func testStateIsSharedByAddressAcrossGroups() {
        let registry = UpstreamRegistry()
        let a = group([upstream(1), upstream(2)], registry: registry)
        let b = group([upstream(2), upstream(3)], registry: registry)
        XCTAssertTrue(a.members[1].state === b.members[0].state)
        registry.lookup("127.0.0.1:2")?.set(admin: .draining)
        XCTAssertEqual(picks(a, 2), [0, 0])
        XCTAssertEqual(picks(b, 2), [1, 1])
    }

    func testStateNames() {
        let state = group([upstream(1)]).members[0].state
        XCTAssertEqual(state.stateName(now: now), "active")
        state.set(admin: .draining)
        XCTAssertEqual(state.stateName(now: now), "drained", "nothing in flight")
        state.inFlight.add(1, ordering: .relaxed)
        XCTAssertEqual(state.stateName(now: now), "draining")
        state.set(admin: .disabled)
        XCTAssertEqual(state.stateName(now: now), "disabled")
    }
}
