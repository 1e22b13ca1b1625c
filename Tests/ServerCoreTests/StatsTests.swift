import ControlProtocol
import Foundation
import XCTest

@testable import ServerCore

final class StatsTests: XCTestCase {
    func testHistogramQuantilesAreWithinABucket() {
        let h = Histogram()
        for v in 1...10_000 { h.record(micros: v) }
        XCTAssertEqual(h.count, 10_000)
        XCTAssertEqual(h.max, 10_000)
        for (q, exact) in [(0.5, 5000.0), (0.9, 9000.0), (0.99, 9900.0)] {
            let got = Double(h.quantile(q))
            XCTAssertLessThanOrEqual(abs(got - exact) / exact, 0.2, "q\(q): \(got) vs \(exact)")
        }
        XCTAssertEqual(h.mean, 5000.5, accuracy: 0.01)
        XCTAssertEqual(Histogram().quantile(0.5), 0)
    }

    func testHistogramUnderConcurrentUpdates() {
        let h = Histogram()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for v in 0..<10_000 { h.record(micros: v % 1000) }
        }
        XCTAssertEqual(h.count, 80_000)
        XCTAssertEqual(h.snapshot().count, 80_000)
    }

    func testTrafficCountersUnderConcurrentUpdates() {
        let t = TrafficStats()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for _ in 0..<5000 { t.record(status: i % 2 == 0 ? 200 : 404, bytes: 10, micros: 5) }
        }
        XCTAssertEqual(t.requests, 40_000)
        XCTAssertEqual(t.status(2), 20_000)
        XCTAssertEqual(t.status(4), 20_000)
        XCTAssertEqual(t.bytesOut, 400_000)
    }

    func testTopClientsFindsTheHeavyHitters() {
        let top = TopClients(capacity: 20)
        // 3 heavy clients among 2,000 light ones.
        for i in 0..<2000 {
            top.record(IPAddress(ipv4: 0x0A00_0000 | UInt32(i)), is4xx: false)
            top.record(IPAddress("192.0.2.1")!, is4xx: false)
            if i % 2 == 0 { top.record(IPAddress("192.0.2.2")!, is4xx: true) }
            if i % 4 == 0 { top.record(IPAddress("192.0.2.3")!, is4xx: false) }
        }
        let (byRequests, by4xx) = top.top(3)
        XCTAssertEqual(Set(byRequests.map(\.address.description)), ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
        XCTAssertEqual(by4xx.first?.address.description, "192.0.2.2")
        for e in byRequests where e.address.description == "192.0.2.1" {
            XCTAssertGreaterThanOrEqual(e.requests, 2000, "space-saving never under-counts")
            XCTAssertLessThanOrEqual(e.requests - e.overcount, 2000)
        }
    }

    /// 3,000 clients with one request each through the daemon's 256-slot table: each listed count
    /// is inflated by the slot the client took, and the report carries that over-count, so the
    /// requests a client certainly made (what expctl shows) are its one.
    func testTopClientsAreReportedWithTheirOvercount() throws {
        let top = TopClients(capacity: 256)
        for i in 0..<3000 { top.record(IPAddress(ipv4: 0x0A00_0000 | UInt32(i)), is4xx: false, stripe: 0) }
        let listed = top.top(10).byRequests.map(StatsReport.client)
        XCTAssertEqual(listed.count, 10)
        XCTAssertGreaterThan(listed.map(\.requests).max() ?? 0, 1, "the table's counts are upper bounds")
        for c in listed {
            XCTAssertEqual(c.guaranteedRequests, 1, c.address)
            XCTAssertEqual(c.requests - c.overcount, 1)
        }
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(listed[0])) as? [String: Any])
        XCTAssertEqual(object["overcount"] as? Int, listed[0].overcount)
        let older = #"{"address":"192.0.2.1","requests":3,"errors_4xx":0}"#
        XCTAssertEqual(try JSONDecoder().decode(StatsResponse.ClientStats.self, from: Data(older.utf8)).overcount, 0,
                       "an older daemon's answer: exact")
    }

    /// The slot table against the exact counts, over seeded random traffic with and without
    /// evictions (removals shift probe runs back): Space-Saving's guarantees hold, no client is
    /// tracked twice, and a table that never fills counts exactly.
    func testClientSlotsKeepSpaceSavingsGuarantees() {
        var rng = SplitMix64(seed: 42)
        for (capacity, clients) in [(1, 3), (4, 4), (8, 40), (16, 500), (64, 300), (256, 100)] {
            var slots = ClientSlots(capacity: capacity)
            var truth: [IPAddress: (requests: Int, errors: Int)] = [:]
            let n = 20_000
            for _ in 0..<n {
                // Skewed: low ids much more often; IPv4 and IPv6 addresses, nearby values.
                let id = Int(rng.next() % UInt64(clients)) * Int(rng.next() % UInt64(clients)) / max(1, clients)
                let a = id % 3 == 0 ? IPAddress(high: 0x2001_0DB8_0000_0000, low: UInt64(id)) : IPAddress(ipv4: 0x0A00_0000 | UInt32(id))
                let is4xx = rng.next() % 5 == 0
                slots.record(a, is4xx: is4xx)
                truth[a, default: (0, 0)].requests += 1
                if is4xx { truth[a, default: (0, 0)].errors += 1 }
            }
            let values = slots.values
            XCTAssertEqual(values.count, slots.count)
            XCTAssertLessThanOrEqual(values.count, capacity)
            XCTAssertEqual(Set(values.map(\.address)).count, values.count, "no client twice (capacity \(capacity))")
            XCTAssertEqual(values.reduce(0) { $0 + $1.requests }, n, "the counts add up to the traffic")
            for e in values {
                let t = truth[e.address]!
                XCTAssertGreaterThanOrEqual(e.requests, t.requests, "never under-counts")
                XCTAssertLessThanOrEqual(e.requests - e.overcount, t.requests, "over-count bounds the error")
                if truth.count <= capacity {
                    XCTAssertEqual(e.requests, t.requests, "exact while it never fills")
                    XCTAssertEqual(e.errors4xx, t.errors)
                    XCTAssertEqual(e.overcount, 0)
                }
            }
            // Every client above n / capacity is tracked.
            for (a, t) in truth where t.requests > n / capacity {
                XCTAssertTrue(values.contains { $0.address == a }, "heavy client \(a) tracked (capacity \(capacity))")
            }
            if truth.count <= capacity { XCTAssertEqual(values.count, truth.count) }
        }
    }

    func testStripedCountersSumEveryStripe() {
        let c = StripedCounters(count: 3)
        for stripe in 0..<Stripes.count {
            c.add(0, stripe: stripe)
            c.add(2, 10, stripe: stripe)
        }
        XCTAssertEqual(c[0], Stripes.count)
        XCTAssertEqual(c[1], 0)
        XCTAssertEqual(c[2], 10 * Stripes.count)
        XCTAssertEqual(c[3], 0, "out of range reads 0")
        c.add(5)  // out of range: ignored
        XCTAssertTrue(Stripes.current() >= 0 && Stripes.current() < Stripes.count)
        let single = StripedCounter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { single.add(1) }
            for _ in 0..<5_000 { single.add(-1) }
        }
        XCTAssertEqual(single.load(), 40_000)
    }

    func testTopClientsAddsUpItsStripes() {
        let top = TopClients(capacity: 4)
        let a = IPAddress("192.0.2.1")!, b = IPAddress("192.0.2.2")!
        for stripe in 0..<Stripes.count {
            for _ in 0..<3 { top.record(a, is4xx: false, stripe: stripe) }
            top.record(b, is4xx: true, stripe: stripe)
        }
        let (byRequests, by4xx) = top.top(2)
        XCTAssertEqual(byRequests.map(\.address), [a, b])
        XCTAssertEqual(byRequests.map(\.requests), [3 * Stripes.count, Stripes.count])
        XCTAssertEqual(by4xx.map(\.address), [b])
        XCTAssertEqual(by4xx.first?.errors4xx, Stripes.count)
    }

    func testTotalsContinueFromTheBaselineAndPersist() throws {
        let store = InMemoryStateStore()
        let stats = ServerStats(connections: ConnectionStats(), routes: RouteStatsRegistry())
        try store.saveStats(["req_total": 100, "res_code_2xx": 90], time: 1000, pruneBefore: 0)
        let recorder = try StatsRecorder(stats: stats, store: store, flushInterval: 3600, retention: 86400, logger: .init(label: "t"))
        stats.all.record(status: 200, bytes: 5, micros: 1)
        stats.generated.record(status: 200, bytes: 5, micros: 1)
        XCTAssertEqual(stats.totals()["req_total"], 101)
        XCTAssertEqual(stats.totals()["res_code_2xx"], 91)
        XCTAssertEqual(try store.statsSample(atOrBefore: 1000)?.totals["req_total"], 100)
        XCTAssertNil(try store.statsSample(atOrBefore: 999))
        XCTAssertEqual(try store.oldestStatsSample()?.time, 1000)
        recorder.stop()  // flushes (and prunes samples older than the retention)
        XCTAssertEqual(try store.statsTotals()["req_total"], 101)
        XCTAssertEqual(try store.statsSample(atOrBefore: Date().timeIntervalSince1970 + 1)?.totals["req_total"], 101)
    }

    func testSQLiteStatsRoundTripAndPrune() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stats-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.db").path
        do {
            let store = try SQLiteStateStore(path: path)
            try store.saveStats(["req_total": 1], time: 10, pruneBefore: 0)
            try store.saveStats(["req_total": 5], time: 20, pruneBefore: 15)
        }
        let reopened = try SQLiteStateStore(path: path)
        XCTAssertEqual(try reopened.statsTotals(), ["req_total": 5])
        XCTAssertNil(try reopened.statsSample(atOrBefore: 12), "pruned")
        XCTAssertEqual(try reopened.statsSample(atOrBefore: 25)?.time, 20)
        XCTAssertEqual(try reopened.oldestStatsSample()?.time, 20, "where the history kept starts")
        try reopened.saveStats(["req_total": 7], time: 30, pruneBefore: 0)
        XCTAssertEqual(try reopened.oldestStatsSample()?.totals, ["req_total": 5])
    }
}
