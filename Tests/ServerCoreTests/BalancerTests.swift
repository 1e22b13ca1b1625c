import XCTest

@testable import ServerCore

/// The balancing policies as values: sequences and distributions over N picks (DESIGN's pyramid,
/// compat 4.3 / L1-L3). The RNG of `random_two` is a fixed xorshift, so counts are deterministic.
final class BalancerTests: XCTestCase {
    func candidates(_ weights: [Int], inFlight: [Int]? = nil) -> [Candidate] {
        weights.indices.map { Candidate(index: $0, weight: weights[$0], inFlight: inFlight?[$0] ?? 0) }
    }

    func picks(_ balancer: inout Balancer, _ list: [Candidate], _ n: Int, clientHash: UInt64 = 0) -> [Int] {
        (0..<n).map { _ in balancer.pick(list, clientHash: clientHash) }
    }

    // MARK: round_robin (smooth weighted, nginx)

    func testSmoothWeighted511GivesAABACAAAndRepeats() {
        var b = Balancer(policy: .roundRobin, count: 3)
        let list = candidates([5, 1, 1])
        let cycle = [0, 0, 1, 0, 2, 0, 0]  // a a b a c a a
        XCTAssertEqual(picks(&b, list, 7), cycle)
        XCTAssertEqual(picks(&b, list, 14), cycle + cycle, "the sequence repeats every 7 picks")
    }

    func testEqualWeightsCycleInOrder() {
        // eXpServer L1/L2: counter % N, starting at upstreams[0].
        var two = Balancer(policy: .roundRobin, count: 2)
        XCTAssertEqual(picks(&two, candidates([1, 1]), 4), [0, 1, 0, 1])
        var three = Balancer(policy: .roundRobin, count: 3)
        XCTAssertEqual(picks(&three, candidates([1, 1, 1]), 7), [0, 1, 2, 0, 1, 2, 0])
        var heavy = Balancer(policy: .roundRobin, count: 3)
        XCTAssertEqual(picks(&heavy, candidates([7, 7, 7]), 6), [0, 1, 2, 0, 1, 2], "equal weights of any size cycle")
    }

    func testWeightedCountsAreExactOverWholeCycles() {
        var b = Balancer(policy: .roundRobin, count: 3)
        let counts = histogram(picks(&b, candidates([5, 1, 3]), 9 * 100), 3)
        XCTAssertEqual(counts, [500, 100, 300])
    }

    func testSkippedCandidatesDoNotBreakTheRotationOfTheOthers() {
        // Index 1 is unavailable (not a candidate): 0 and 2 alternate.
        var b = Balancer(policy: .roundRobin, count: 3)
        let list = [Candidate(index: 0, weight: 1, inFlight: 0), Candidate(index: 2, weight: 1, inFlight: 0)]
        XCTAssertEqual(picks(&b, list, 4), [0, 2, 0, 2])
    }

    // MARK: least_conn

    func testLeastConnPrefersFewestInFlight() {
        var b = Balancer(policy: .leastConn, count: 3)
        XCTAssertEqual(b.pick(candidates([1, 1, 1], inFlight: [3, 1, 2]), clientHash: 0), 1)
        XCTAssertEqual(b.pick(candidates([1, 1, 1], inFlight: [0, 4, 4]), clientHash: 0), 0)
    }

    func testLeastConnComparesInFlightPerUnitOfWeight() {
        var b = Balancer(policy: .leastConn, count: 2)
        // 1/1 = 1.0 against 2/3 ≈ 0.67: the heavier one, although it has more in flight.
        XCTAssertEqual(b.pick(candidates([1, 3], inFlight: [1, 2]), clientHash: 0), 1)
        // 1/1 against 4/3: the lighter one.
        XCTAssertEqual(b.pick(candidates([1, 3], inFlight: [1, 4]), clientHash: 0), 0)
    }

    func testLeastConnTiesAreSharedByWeight() {
        var b = Balancer(policy: .leastConn, count: 3)
        XCTAssertEqual(histogram(picks(&b, candidates([2, 1, 1], inFlight: [0, 0, 0]), 400), 3), [200, 100, 100])
        var c = Balancer(policy: .leastConn, count: 3)
        // Only 1 and 2 are tied at the minimum: 0 is never chosen.
        XCTAssertEqual(histogram(picks(&c, candidates([1, 1, 1], inFlight: [5, 2, 2]), 10), 3), [0, 5, 5])
        var d = Balancer(policy: .leastConn, count: 4)
        // Ties found before a better one are dropped; 2/2 ties with 1/1 per unit of weight.
        XCTAssertEqual(histogram(picks(&d, candidates([1, 1, 1, 2], inFlight: [3, 3, 1, 2]), 30), 4), [0, 0, 10, 20])
    }

    // MARK: ip_hash

    func hash(_ ip: String) -> UInt64 { Balancer.clientHash(IPAddress(ip)!) }

    /// Upstreams as ip_hash sees them: keyed by the addresses 127.0.0.1:8001, :8002, ...
    func keyed(_ weights: [Int]) -> [Candidate] {
        weights.indices.map { Candidate(index: $0, weight: weights[$0], inFlight: 0, key: Balancer.upstreamKey("127.0.0.1:\(8001 + $0)")) }
    }

    func ipPick(_ ip: String, _ list: [Candidate]) -> Int {
        var b = Balancer(policy: .ipHash, count: 16)
        return b.pick(list, clientHash: hash(ip))
    }

    func counts(_ clients: [String], _ list: [Candidate], _ n: Int) -> [Int] { histogram(clients.map { ipPick($0, list) }, n) }

    func testClientHashIsStableAndNilIsZero() {
        XCTAssertEqual(hash("127.0.0.1"), hash("127.0.0.1"))
        XCTAssertEqual(hash("::ffff:127.0.0.1"), hash("127.0.0.1"), "IPv4-mapped is IPv4")
        XCTAssertNotEqual(hash("127.0.0.1"), hash("127.0.0.2"))
        XCTAssertEqual(Balancer.clientHash(nil), 0)
    }

    func testUpstreamKeysAreFixedValuesOfTheAddress() {
        // The same in every process (not Swift's per-process seeded Hasher): clients keep their
        // upstream across restarts.
        XCTAssertEqual(Balancer.upstreamKey(""), Balancer.mix(0xCBF2_9CE4_8422_2325))
        XCTAssertEqual(Balancer.upstreamKey("a"), Balancer.mix((0xCBF2_9CE4_8422_2325 ^ 0x61) &* 0x100_0000_01B3))
        XCTAssertNotEqual(Balancer.upstreamKey("127.0.0.1:8001"), Balancer.upstreamKey("127.0.0.1:8002"))
    }

    /// Each population of 256 clients spreads over 2, 3, 4 and 8 equal upstreams: every one
    /// within half of its fair share either way.
    func assertSpread(_ populations: [[String]], file: StaticString = #filePath, line: UInt = #line) {
        for (p, clients) in populations.enumerated() {
            for n in [2, 3, 4, 8] {
                let counts = counts(clients, keyed(Array(repeating: 1, count: n)), n)
                let fair = clients.count / n
                XCTAssertTrue(counts.allSatisfy { $0 >= fair / 2 && $0 <= fair * 3 / 2 }, "population \(p), \(n) upstreams: \(counts)",
                              file: file, line: line)
            }
        }
    }

    /// IPv4 clients that differ in one octet only spread over the upstreams, whatever their
    /// number (eXpServer's key put a whole /8 on one upstream of 2, 4 or 8).
    func testIPv4ClientsSpread() {
        assertSpread([
            (0..<256).map { "\($0).1.2.3" }, (0..<256).map { "10.\($0).2.3" }, (0..<256).map { "10.1.\($0).3" },
            (0..<256).map { "127.0.0.\($0)" },
        ])
    }

    /// IPv6 clients that differ in one field only (sites in one prefix, hosts of one /64) spread
    /// over the upstreams, whatever their number.
    func testIPv6ClientsSpread() {
        assertSpread([
            (0..<256).map { "2001:db8:\(String($0, radix: 16))::1" },
            (0..<256).map { "2001:db8:0:\(String($0, radix: 16))::1" },
            (0..<256).map { "2001:db8::\(String($0, radix: 16))" },
            (0..<256).map { "2001:db8::\(String($0, radix: 16)):0:0:0" },
        ])
    }

    /// 4,096 clients over weights 5:1:1 and 3:1: shares follow the weights (nginx's ip_hash
    /// honours weights too).
    func testIPHashFollowsWeights() {
        let clients = (0..<4096).map { "10.\($0 >> 8).\($0 & 255).7" }
        let c511 = counts(clients, keyed([5, 1, 1]), 3)
        XCTAssertEqual(Double(c511[0]), 4096 * 5 / 7, accuracy: 200, "\(c511)")
        XCTAssertEqual(Double(c511[1]), 4096 / 7, accuracy: 150, "\(c511)")
        XCTAssertEqual(Double(c511[2]), 4096 / 7, accuracy: 150, "\(c511)")
        let c31 = counts(clients, keyed([3, 1]), 2)
        XCTAssertEqual(Double(c31[0]), 4096 * 3 / 4, accuracy: 200, "\(c31)")
        XCTAssertEqual(counts(clients, keyed([2, 0, 1]).filter { $0.weight > 0 }, 3)[1], 0)
    }

    func testIPHashIsStablePerClient() {
        var b = Balancer(policy: .ipHash, count: 4)
        let list = keyed([1, 5, 1, 2])
        for ip in ["127.0.0.1", "127.0.0.2", "127.0.0.3", "10.1.2.3", "192.168.7.9", "::1", "2001:db8::7"] {
            let first = b.pick(list, clientHash: hash(ip))
            XCTAssertEqual(Set(picks(&b, list, 50, clientHash: hash(ip))), [first], ip)
        }
    }

    /// The choice hangs on the upstreams' addresses, not on their order in the list.
    func testIPHashDoesNotDependOnTheOrderOfTheUpstreams() {
        let list = keyed([1, 2, 1, 1])
        let reversed = Array(list.reversed())
        for i in 1..<200 {
            let ip = "172.16.\(i).9"
            XCTAssertEqual(ipPick(ip, list), ipPick(ip, reversed), ip)
        }
    }

    /// An unavailable upstream's clients move, spread over all the others; no other client moves.
    func testIPHashMovesOnlyTheClientsOfAnUnavailableUpstream() {
        let all = keyed([1, 1, 1, 1])
        let without2 = all.filter { $0.index != 2 }
        var movedTo = [0, 0, 0, 0]
        for i in 0..<1024 {
            let ip = "\(i >> 4).\(i & 15).2.3"
            let before = ipPick(ip, all), after = ipPick(ip, without2)
            if before == 2 {
                movedTo[after] += 1
            } else {
                XCTAssertEqual(after, before, "a client of another upstream must not move: \(ip)")
            }
        }
        XCTAssertEqual(movedTo[2], 0)
        XCTAssertGreaterThan(movedTo.reduce(0, +), 150, "about a quarter of the clients were on upstream 2: \(movedTo)")
        for i in [0, 1, 3] { XCTAssertGreaterThan(movedTo[i], 40, "each of the others takes about a third of them: \(movedTo)") }
    }

    /// Raising one upstream's weight moves clients to it only; lowering it, from it only.
    func testIPHashWeightChangeMovesClientsOnlyToOrFromThatUpstream() {
        let before = keyed([1, 1, 1, 1])
        var heavier = before
        heavier[1].weight = 3
        var toIt = 0
        for i in 0..<1024 {
            let ip = "192.168.\(i >> 8).\(i & 255)"
            let a = ipPick(ip, before), b = ipPick(ip, heavier)
            if a != b {
                XCTAssertEqual(b, 1, "moved only to the heavier one: \(ip)")
                toIt += 1
            }
        }
        // Its share goes from 1/4 to 3/6: about a quarter of all clients move to it.
        XCTAssertEqual(Double(toIt), 1024 / 4, accuracy: 80)
    }

    // MARK: random_two

    func testRandomTwoFollowsWeightsWhenIdle() {
        var b = Balancer(policy: .randomTwo, count: 3)
        let counts = histogram(picks(&b, candidates([6, 3, 1]), 10_000), 3)
        XCTAssertEqual(counts.reduce(0, +), 10_000)
        XCTAssertEqual(Double(counts[0]), 6_000, accuracy: 800, "\(counts)")
        XCTAssertEqual(Double(counts[1]), 3_000, accuracy: 800, "\(counts)")
        XCTAssertEqual(Double(counts[2]), 1_000, accuracy: 500, "\(counts)")
    }

    func testRandomTwoEqualWeightsSpreadEvenly() {
        var b = Balancer(policy: .randomTwo, count: 4)
        for count in histogram(picks(&b, candidates([1, 1, 1, 1]), 10_000), 4) {
            XCTAssertEqual(Double(count), 2_500, accuracy: 500)
        }
    }

    func testRandomTwoPrefersTheLessLoadedOfItsTwoChoices() {
        var b = Balancer(policy: .randomTwo, count: 2)
        // With two candidates both are always drawn: the idle one always wins.
        XCTAssertEqual(Set(picks(&b, candidates([1, 1], inFlight: [9, 0]), 200)), [1])
        // Among three, the busiest can win only when it is drawn twice... which is corrected to
        // another candidate, so it never wins.
        var c = Balancer(policy: .randomTwo, count: 3)
        XCTAssertFalse(picks(&c, candidates([1, 1, 1], inFlight: [0, 0, 50]), 2_000).contains(2))
    }

    func testRandomTwoSingleCandidate() {
        var b = Balancer(policy: .randomTwo, count: 3)
        XCTAssertEqual(Set(picks(&b, [Candidate(index: 2, weight: 1, inFlight: 7)], 10)), [2])
    }

    func testRandomTwoIsDeterministic() {
        var a = Balancer(policy: .randomTwo, count: 3)
        var b = Balancer(policy: .randomTwo, count: 3)
        let list = candidates([2, 1, 1])
        XCTAssertEqual(picks(&a, list, 100), picks(&b, list, 100))
    }

    func histogram(_ picks: [Int], _ n: Int) -> [Int] {
        var counts = Array(repeating: 0, count: n)
        for p in picks { counts[p] += 1 }
        return counts
    }
}
