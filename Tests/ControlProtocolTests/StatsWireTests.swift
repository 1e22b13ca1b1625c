import ControlProtocol
import Foundation
import XCTest

/// `/v1/stats`: without `since`, `window` is null, not left out; with it, an object.
final class StatsWireTests: XCTestCase {
    func stats(window: StatsResponse.Window?) -> StatsResponse {
        StatsResponse(
            uptimeMs: 5, totals: ["req_total": 3], current: [:], requestRate: 0.5,
            latencyMs: .init(p50: 1, p90: 2, p99: 3, max: 4, mean: 1.5), routes: [], upstreams: [], topClients: [],
            top4xxClients: [], window: window)
    }

    func testWindowIsNullWithoutSince() throws {
        let keys: Set<String> = [
            "uptime_ms", "totals", "current", "request_rate", "latency_ms", "routes", "upstreams", "top_clients",
            "top_4xx_clients", "window",
        ]
        let object = try WireJSON.assertRoundTrip(stats(window: nil), keys: keys)
        XCTAssertTrue(object["window"] is NSNull, "null, not left out")
        let windowed = try WireJSON.assertRoundTrip(stats(window: .init(since: 10, seconds: 60, deltas: ["req_total": 2])), keys: keys)
        XCTAssertNotNil(windowed["window"] as? [String: Any])
    }
}
