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

    func testIPHashIsStablePerClientAddress() throws {
        // L3 with 3 upstreams: REF's key puts 127.0.0.1 on index 2, .2 on 0, .3 on 1.
        let ups = try fakes("a", "b", "c")
        let s = try startProxy(ups, route: #""load_balancing": "ip_hash""#)
        for (source, expected) in [("127.0.0.1", "c"), ("127.0.0.2", "a"), ("127.0.0.3", "b")] {
            XCTAssertEqual(Set(try ids(s, 6, source: source)), [expected], source)
        }
        XCTAssertEqual(ups.map(\.requests), [6, 6, 6])
    }

    func testIPHashTwoUpstreamsMatchesTheReference() throws {
        // Every 127.x.x.x client picks index 1 of 2 (compat 4.3).
        let ups = try fakes("a", "b")
        let s = try startProxy(ups, route: #""load_balancing": "ip_hash""#)
        for source in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
            XCTAssertEqual(Set(try ids(s, 4, source: source)), ["b"], source)
        }
        XCTAssertEqual(ups[0].requests, 0)
    }

    func testIPHashClientsOfADrainedUpstreamMoveAndTheOthersStay() throws {
        let ups = try fakes("a", "b", "c")
        let s = try startProxy(ups, route: #""load_balancing": "ip_hash""#)
        upstreamState(s, ups[2])?.set(admin: .draining)
        XCTAssertEqual(Set(try ids(s, 3, source: "127.0.0.1")), ["a"], "its upstream is draining: the next available")
        XCTAssertEqual(Set(try ids(s, 3, source: "127.0.0.2")), ["a"])
        XCTAssertEqual(Set(try ids(s, 3, source: "127.0.0.3")), ["b"])
        XCTAssertEqual(ups[2].requests, 0)
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
