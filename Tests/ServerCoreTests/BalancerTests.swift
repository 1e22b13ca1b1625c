import XCTest

@testable import ServerCore

/// The balancing policies as values: sequences and distributions over N picks (DESIGN's pyramid,
/// compat 4.3 / L1-L3). The RNG of `random_two` is a fixed xorshift, so counts are deterministic.
final class BalancerTests: XCTestCase {
    func candidates(_ weights: [Int], inFlight: [Int]? = nil) -> [Candidate] {
        weights.indices.map { Candidate(index: $0, weight: weights[$0], inFlight: inFlight?[$0] ?? 0) }
    }

    func picks(_ balancer: inout Balancer, _ list: [Candidate], _ n: Int, clientHash: UInt64 = 0) -> [Int] {
        (0..<n).map { _ in balancer.pick(list, clientHash: clientHash, tier: Array(list.indices)) }
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
        XCTAssertEqual(b.pick(candidates([1, 1, 1], inFlight: [3, 1, 2]), clientHash: 0, tier: Array(0..<3)), 1)
        XCTAssertEqual(b.pick(candidates([1, 1, 1], inFlight: [0, 4, 4]), clientHash: 0, tier: Array(0..<3)), 0)
    }

    func testLeastConnComparesInFlightPerUnitOfWeight() {
        var b = Balancer(policy: .leastConn, count: 2)
        // 1/1 = 1.0 against 2/3 ≈ 0.67: the heavier one, although it has more in flight.
        XCTAssertEqual(b.pick(candidates([1, 3], inFlight: [1, 2]), clientHash: 0, tier: Array(0..<2)), 1)
        // 1/1 against 4/3: the lighter one.
        XCTAssertEqual(b.pick(candidates([1, 3], inFlight: [1, 4]), clientHash: 0, tier: Array(0..<2)), 0)
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

    /// The slot ip_hash gives `ip` among `n` upstreams.
    func slot(_ ip: String, _ n: Int) -> Int { Int(hash(ip) % UInt64(n)) }

    func testClientHashIsStableAndNilIsZero() {
        XCTAssertEqual(hash("127.0.0.1"), hash("127.0.0.1"))
        XCTAssertEqual(hash("::ffff:127.0.0.1"), hash("127.0.0.1"), "IPv4-mapped is IPv4")
        XCTAssertNotEqual(hash("127.0.0.1"), hash("127.0.0.2"))
        XCTAssertEqual(Balancer.clientHash(nil), 0)
    }

    /// IPv4 clients that differ in one octet only spread over the upstreams, whatever their
    /// number (eXpServer's key put a whole /8 on one upstream of 2, 4 or 8).
    func testIPv4ClientsSpread() {
        let populations: [[String]] = [
            (0..<256).map { "\($0).1.2.3" }, (0..<256).map { "10.\($0).2.3" }, (0..<256).map { "10.1.\($0).3" },
            (0..<256).map { "127.0.0.\($0)" },
        ]
        for (p, clients) in populations.enumerated() {
            for n in [2, 3, 4, 8] {
                var counts = [Int](repeating: 0, count: n)
                for ip in clients { counts[slot(ip, n)] += 1 }
                let fair = 256 / n
                XCTAssertTrue(counts.allSatisfy { $0 >= fair / 2 && $0 <= fair * 3 / 2 }, "population \(p), \(n) upstreams: \(counts)")
            }
        }
    }

    func testIPHashPicksTheClientsSlot() {
        var b = Balancer(policy: .ipHash, count: 3)
        for ip in ["127.0.0.1", "127.0.0.2", "127.0.0.3", "10.0.0.1"] {
            XCTAssertEqual(b.pick(candidates([1, 1]), clientHash: hash(ip), tier: Array(0..<2)), slot(ip, 2), ip)
            XCTAssertEqual(b.pick(candidates([1, 1, 1]), clientHash: hash(ip), tier: Array(0..<3)), slot(ip, 3), ip)
        }
    }

    /// IPv6 clients that differ in one field only (sites in one prefix, hosts of one /64) spread
    /// over the upstreams, whatever their number.
    func testIPv6ClientsSpread() {
        let populations: [[String]] = [
            (0..<256).map { "2001:db8:\(String($0, radix: 16))::1" },
            (0..<256).map { "2001:db8:0:\(String($0, radix: 16))::1" },
            (0..<256).map { "2001:db8::\(String($0, radix: 16))" },
            (0..<256).map { "2001:db8::\(String($0, radix: 16)):0:0:0" },
        ]
        for (p, clients) in populations.enumerated() {
            for n in [2, 3, 4, 8] {
                var counts = [Int](repeating: 0, count: n)
                for ip in clients { counts[Int(hash(ip) % UInt64(n))] += 1 }
                // 256 clients: every slot within half of its fair share either way.
                let fair = 256 / n
                XCTAssertTrue(counts.allSatisfy { $0 >= fair / 2 && $0 <= fair * 3 / 2 }, "population \(p), \(n) upstreams: \(counts)")
            }
        }
    }

    func testIPHashIsStablePerClient() {
        var b = Balancer(policy: .ipHash, count: 4)
        let list = candidates([1, 5, 1, 2])
        for ip in ["127.0.0.1", "127.0.0.2", "127.0.0.3", "10.1.2.3", "192.168.7.9"] {
            let first = b.pick(list, clientHash: hash(ip), tier: Array(0..<4))
            XCTAssertEqual(Set(picks(&b, list, 50, clientHash: hash(ip))), [first], ip)
        }
    }

    func testIPHashMovesOnlyTheClientsOfAnUnavailableUpstream() {
        var b = Balancer(policy: .ipHash, count: 4)
        let all = candidates([1, 1, 1, 1])
        let without2 = all.filter { $0.index != 2 }
        var moved = 0
        for first in 1..<256 {
            // (These clients cover every slot.)
            let h = hash("\(first).1.2.3")
            let before = b.pick(all, clientHash: h, tier: Array(0..<4))
            let after = b.pick(without2, clientHash: h, tier: Array(0..<4))
            if before == 2 {
                XCTAssertNotEqual(after, 2)
                XCTAssertEqual(after, 3, "the next available index after the client's slot")
                moved += 1
            } else {
                XCTAssertEqual(after, before, "a client of another upstream must not move")
            }
        }
        XCTAssertGreaterThan(moved, 0, "some clients were on upstream 2")
    }

    func testIPHashWrapsToTheFirstAvailable() {
        var b = Balancer(policy: .ipHash, count: 3)
        // A client of slot 2 of 3; with 2 unavailable there is nothing after it: wrap to 0.
        let ip = try! XCTUnwrap((1...255).map { "127.0.0.\($0)" }.first { slot($0, 3) == 2 })
        let list = candidates([1, 1, 1]).filter { $0.index != 2 }
        XCTAssertEqual(b.pick(list, clientHash: hash(ip), tier: Array(0..<3)), 0)
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
