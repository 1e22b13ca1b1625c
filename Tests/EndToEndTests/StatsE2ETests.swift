import ControlProtocol
import Foundation
import XCTest

/// `expctl stats` against the built binaries: the `--json` schema, and totals that continue after
/// a restart (SIGTERM flushes; kill -9 loses at most one flush interval).
final class StatsE2ETests: E2ETestCase {
    func testStatsJSONSchemaAndTotalsSurviveARestart() throws {
        let port = freePort()
        let first = try startDaemon(ports: [port])
        for _ in 0..<5 { XCTAssertEqual(try httpGet(port: port, path: "/hello.txt").status, 200) }
        XCTAssertEqual(try httpGet(port: port, path: "/missing").status, 404)

        let raw = try expctl(["stats", "--json"])
        XCTAssertEqual(raw.status, 0, raw.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(raw.stdout.utf8)) as? [String: Any])
        for key in ["uptime_ms", "totals", "current", "request_rate", "latency_ms", "routes", "upstreams", "top_clients", "top_4xx_clients"] {
            XCTAssertNotNil(object[key], "missing \(key)")
        }
        let stats = try expctlJSON(StatsResponse.self, ["stats"])
        XCTAssertEqual(stats.totals["req_total"], 6)
        XCTAssertEqual(stats.totals["res_all_4xx"], 1)
        XCTAssertEqual(stats.topClients.first?.address, "127.0.0.1")
        XCTAssertEqual(stats.routes.first?.requests, 6)

        kill(first.pid, SIGTERM)
        XCTAssertNotNil(waitForExit(first))
        _ = try startDaemon(ports: [port])
        XCTAssertEqual(try httpGet(port: port, path: "/hello.txt").status, 200)
        let after = try expctlJSON(StatsResponse.self, ["stats"])
        XCTAssertEqual(after.totals["req_total"], 7, "totals continue across the restart")
        let table = try expctl(["stats", "--routes", "--clients", "--since", "1h"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("requests (total)"), table.stdout)
        XCTAssertTrue(table.stdout.contains("last "), table.stdout)
        XCTAssertEqual(try expctl(["stats", "--since", "soon"]).status, 64)
    }
}
