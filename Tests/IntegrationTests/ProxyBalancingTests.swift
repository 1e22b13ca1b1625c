import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// Load balancing through real sockets with fake upstreams that answer with their own id
/// (compat 4.3, L1-L3): distributions as counts over N requests.
final class ProxyBalancingTests: ProxyTestCase {
    func testRoundRobinTwoUpstreamsAlternates() throws {
        // L1: 3001, 3002, 3001, 3002 (the key absent means round_robin).
        let ups = try fakes("a", "b")
        let s = try startProxy(ups)
        XCTAssertEqual(try ids(s, 4), ["a", "b", "a", "b"])
        XCTAssertEqual(ups.map(\.requests), [2, 2])
    }

    func testRoundRobinThreeUpstreamsCycles() throws {
        // L2: 0, 1, 2, 0, ...
        let ups = try fakes("a", "b", "c")
        let s = try startProxy(ups, route: #""load_balancing": "round_robin""#)
        XCTAssertEqual(try ids(s, 7), ["a", "b", "c", "a", "b", "c", "a"])
    }

    func testWeightedFiveToOneCounts() throws {
        let ups = try fakes("heavy", "light")
        let s = try startServer(proxyConfig([#"{ "address": "\#(ups[0].address)", "weight": 5 }"#, quoted(ups[1])]))
        let seen = try ids(s, 60)
        XCTAssertEqual(seen.filter { $0 == "heavy" }.count, 50)
        XCTAssertEqual(seen.filter { $0 == "light" }.count, 10)
        XCTAssertEqual(Array(seen.prefix(6)), ["heavy", "heavy", "heavy", "light", "heavy", "heavy"], "smooth: the light one is not last")
        XCTAssertEqual(ups.map(\.requests), [50, 10])
    }

    func testWeightedFiveOneOneSequence() throws {
        let ups = try fakes("a", "b", "c")
        let s = try startServer(proxyConfig([#"{ "address": "\#(ups[0].address)", "weight": 5 }"#, quoted(ups[1]), quoted(ups[2])]))
        XCTAssertEqual(try ids(s, 14).joined(), "aabacaa" + "aabacaa")
    }

    /// The upstream ip_hash gives `source` among `ups` (equal weights), from the pure policy.
    func ipHashPick(_ source: String, _ ups: [FakeUpstream]) -> FakeUpstream {
        var b = Balancer(policy: .ipHash, count: ups.count)
        let list = ups.indices.map { Candidate(index: $0, weight: 1, inFlight: 0, key: Balancer.upstreamKey(ups[$0].address)) }
        return ups[b.pick(list, clientHash: Balancer.clientHash(IPAddress(source)!))]
    }

    func testIPHashIsStablePerClientAddress() throws {
        // L3: every request from one address goes to one upstream, the one the policy names.
        let ups = try fakes("a", "b", "c")
        let s = try startProxy(ups, route: #""load_balancing": "ip_hash""#)
        for source in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
            XCTAssertEqual(Set(try ids(s, 6, source: source)), [ipHashPick(source, ups).id], source)
        }
        XCTAssertEqual(ups.map(\.requests).reduce(0, +), 18)
    }

    /// Clients of one /8 spread over two upstreams (eXpServer's key sent every 127.x.x.x client to
    /// the second of two).
    func testIPHashSpreadsClientsOfOnePrefix() throws {
        let ups = try fakes("a", "b")
        let s = try startProxy(ups, route: #""load_balancing": "ip_hash""#)
        for i in 1...12 { XCTAssertEqual(Set(try ids(s, 2, source: "127.0.\(i).1")).count, 1) }
        XCTAssertGreaterThan(min(ups[0].requests, ups[1].requests), 0, "both upstreams got clients: \(ups.map(\.requests))")
    }

    /// ip_hash honours weights: "a" at weight 3 beside "b" at 1 gets about three quarters of 64
    /// clients.
    func testIPHashFollowsWeights() throws {
        let ups = try fakes("a", "b")
        let s = try startServer(proxyConfig([#"{ "address": "\#(ups[0].address)", "weight": 3 }"#, quoted(ups[1])],
                                            route: #""load_balancing": "ip_hash""#))
        for i in 1...64 { _ = try ids(s, 1, source: "127.0.\(i).9") }
        XCTAssertEqual(Double(ups[0].requests), 48, accuracy: 12, "\(ups.map(\.requests))")
    }

    func testIPHashClientsOfADrainedUpstreamMoveAndTheOthersStay() throws {
        let ups = try fakes("a", "b", "c")
        let s = try startProxy(ups, route: #""load_balancing": "ip_hash""#)
        let sources = (1...250).map { "127.0.0.\($0)" }
        let clients = ups.map { u in sources.first { ipHashPick($0, ups) === u }! }
        upstreamState(s, ups[2])?.set(admin: .draining)
        XCTAssertEqual(Set(try ids(s, 3, source: clients[2])), [ipHashPick(clients[2], Array(ups[0..<2])).id],
                       "its upstream is draining: its second choice")
        XCTAssertEqual(Set(try ids(s, 3, source: clients[0])), ["a"])
        XCTAssertEqual(Set(try ids(s, 3, source: clients[1])), ["b"])
        // The drained upstream's clients spread over both others.
        let moved = sources.filter { ipHashPick($0, ups) === ups[2] }.prefix(12)
        let before = ups.map(\.requests)
        for source in moved { _ = try ids(s, 1, source: source) }
        XCTAssertEqual(ups[2].requests, 0)
        XCTAssertGreaterThan(min(ups[0].requests - before[0], ups[1].requests - before[1]), 0, "\(before) \(ups.map(\.requests))")
    }

    func testLeastConnSendsNewRequestsAwayFromABusyUpstream() throws {
        let ups = try fakes("slow", "fast")
        ups[0].behavior.holdPrefix = "/busy"
        let s = try startProxy(ups, route: #""load_balancing": "least_conn""#)
        // The first request goes to "slow" and stays in flight; meanwhile everything goes to "fast".
        let busy = try RawClient(port: s.port, timeout: 10)
        try busy.send("GET /busy HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(pollUntil(timeout: 5) { ups[0].counters.held == 1 })
        XCTAssertEqual(Set(try ids(s, 5)), ["fast"])
        ups[0].release()
        XCTAssertEqual(try busy.readResponse().header("X-Upstream-Id"), "slow")
        XCTAssertEqual(Set(try ids(s, 4)), ["slow", "fast"], "both idle again: shared")
    }

    func testRandomTwoSpreadsOverAllUpstreams() throws {
        let ups = try fakes("a", "b", "c")
        let s = try startProxy(ups, route: #""load_balancing": "random_two""#)
        _ = try ids(s, 60)
        XCTAssertEqual(ups.map(\.requests).reduce(0, +), 60)
        for u in ups { XCTAssertGreaterThan(u.requests, 5, "\(u.id): \(ups.map(\.requests))") }
    }
}
