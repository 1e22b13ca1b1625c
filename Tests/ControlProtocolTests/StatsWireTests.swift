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

    /// A route's figures carry `bytes_sent`; one from a daemon that did not send it reads as 0.
    func testRouteBytesSent() throws {
        let route = StatsResponse.RouteStats(route: "servers[0] /", requests: 2, status: ["2xx": 2],
                                             latencyMs: .init(p50: 1, p90: 2, p99: 3, max: 4, mean: 1.5), bytesSent: 1234)
        let object = try WireJSON.assertRoundTrip(route, keys: ["route", "requests", "status", "latency_ms", "bytes_sent"])
        XCTAssertEqual(object["bytes_sent"] as? Int, 1234)
        let older = #"{"route":"r","requests":1,"status":{},"latency_ms":{"p50":0,"p90":0,"p99":0,"max":0,"mean":0}}"#
        XCTAssertEqual(try JSONDecoder().decode(StatsResponse.RouteStats.self, from: Data(older.utf8)).bytesSent, 0)
    }
}
