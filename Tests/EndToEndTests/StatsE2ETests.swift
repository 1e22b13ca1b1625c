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
        XCTAssertGreaterThan(stats.routes.first?.bytesSent ?? 0, 6 * 100, "six answers, heads included")

        kill(first.pid, SIGTERM)
        XCTAssertNotNil(waitForExit(first))
        _ = try startDaemon(ports: [port])
        XCTAssertEqual(try httpGet(port: port, path: "/hello.txt").status, 200)
        let after = try expctlJSON(StatsResponse.self, ["stats"])
        XCTAssertEqual(after.totals["req_total"], 7, "totals continue across the restart")
        let table = try expctl(["stats", "--routes", "--clients", "--since", "1h"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("requests (total)"), table.stdout)
        let routeHeader = table.stdout.split(separator: "\n").first { $0.hasPrefix("route") }.map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(routeHeader, ["route", "requests", "2xx", "3xx", "4xx", "5xx", "p50", "ms", "p99", "ms"], table.stdout)
        XCTAssertTrue(table.stdout.contains("last "), table.stdout)
        XCTAssertTrue(table.stdout.contains("(the history kept starts then; 3600s asked)"), table.stdout)
        XCTAssertEqual(try expctl(["stats", "--since", "soon"]).status, 64)
    }

    /// `--watch --since`: each round asks for the window ending now (the start used to be
    /// computed once, so the window kept growing).
    func testWatchSlidesTheWindow() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port], extra: #""stats": { "flush_ms": 100 },"#))
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        try waitReady(daemon)
        usleep(1_200_000)  // samples older than the first round's window start
        let watch = try launch(try Binaries.url("expctl"), ["stats", "--json", "--watch", "--since", "1s", "--socket", socketPath],
                               name: "expctl-watch")
        var windows: [StatsResponse.Window] = []
        let enough = waitUntil(timeout: 20) {
            let text = (try? String(contentsOfFile: watch.stdoutPath, encoding: .utf8)) ?? ""
            // Pretty-printed documents, one per round; the last may be incomplete.
            windows = text.components(separatedBy: "\n}\n").dropLast().compactMap {
                try? JSONDecoder().decode(StatsResponse.self, from: Data(($0 + "\n}").utf8)).window
            }
            return windows.count >= 3
        }
        kill(watch.pid, SIGTERM)
        _ = waitForExit(watch)
        XCTAssertTrue(enough, "3 rounds of output: \(windows.count)")
        guard let first = windows.first, let last = windows.last else { return }
        XCTAssertGreaterThanOrEqual(last.since - first.since, 1, "the window's start moves with each round")
        for w in windows { XCTAssertLessThan(w.seconds, 3, "about the 1s asked, not growing") }
    }
}
