import Foundation
import XCTest

@testable import ServerCore

/// Compat 7.6 (M1-M5, W1) and the Prometheus exposition.
final class MetricsTests: ServerTestCase {
    func json(_ r: HTTPResult) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
    }

    func testExpserverMetricsJSONOnTheRoutelessServer() throws {
        let s = try startServer("""
            { "server_name": "eXpServer", "workers": 2,
              "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                             "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] },
                           { "listeners": [{ "host": "127.0.0.1", "port": $PORT1 }] } ] }
            """, ports: 2)
        let first = try exchange(s, getRequest("/api"), port: s.ports[1]).response
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.header("Content-Type"), "application/json")
        XCTAssertEqual(first.header("Access-Control-Allow-Origin"), "*")
        let a = try json(first)
        let keys = ["server_name", "pid", "workers", "uptime_msec", "sys_cpu_usage_percent", "sys_ram_usage_bytes", "sys_ram_total_bytes",
                    "workers_cpu_usage_percent", "workers_ram_usage_bytes", "conn_current", "conn_accepted", "conn_error", "conn_timeout",
                    "conn_accepted_error", "req_current", "req_total", "req_file_serve", "req_reverse_proxy", "req_redirect",
                    "res_avg_res_time_msec", "res_peak_res_time_msec", "res_code_2xx", "res_code_3xx", "res_code_4xx", "res_code_5xx",
                    "traffic_total_send_bytes", "traffic_total_recv_bytes"]
        for k in keys { XCTAssertNotNil(a[k], "missing \(k)") }
        XCTAssertEqual(a["server_name"] as? String, "eXpServer")
        XCTAssertEqual(a["workers"] as? Int, 2)
        XCTAssertEqual(a["pid"] as? Int, Int(getpid()))
        XCTAssertEqual((a["workers_cpu_usage_percent"] as? [Any])?.count, 2)
        // Three requests, one of them a 404 (M3).
        for path in ["/sample.txt", "/sample.pdf", "/missing"] { _ = try exchange(s, getRequest(path)) }
        usleep(20_000)
        let b = try json(try exchange(s, getRequest("/api"), port: s.ports[1]).response)
        XCTAssertGreaterThanOrEqual((b["req_total"] as! Int) - (a["req_total"] as! Int), 3)
        XCTAssertGreaterThanOrEqual((b["res_code_4xx"] as! Int) - (a["res_code_4xx"] as! Int), 1)
        XCTAssertGreaterThanOrEqual((b["res_code_2xx"] as! Int) - (a["res_code_2xx"] as! Int), 2)
        XCTAssertGreaterThanOrEqual((b["req_file_serve"] as! Int) - (a["req_file_serve"] as! Int), 3)
        XCTAssertEqual(b["req_reverse_proxy"] as? Int, 0, "file_serve is not counted as reverse_proxy (REF's bug)")
        XCTAssertGreaterThan(b["conn_accepted"] as! Int, a["conn_accepted"] as! Int)
        XCTAssertGreaterThan(b["traffic_total_send_bytes"] as! Int, a["traffic_total_send_bytes"] as! Int)
        XCTAssertGreaterThanOrEqual(b["uptime_msec"] as! Int, a["uptime_msec"] as! Int)
        XCTAssertEqual(try exchange(s, getRequest("/other"), port: s.ports[1]).response.status, 404, "M4")
    }

    func testMetricsRouteAndPrometheusParses() throws {
        let s = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" },
                          { "req_path": "/metrics", "type": "metrics", "format": "prometheus" },
                          { "req_path": "/stats", "type": "metrics" } ] } ] }
            """)
        _ = try exchange(s, getRequest("/sample.txt"))
        XCTAssertNotNil(try json(try exchange(s, getRequest("/stats")).response)["req_total"])
        let text = try exchange(s, getRequest("/metrics")).response
        XCTAssertEqual(text.status, 200)
        XCTAssertEqual(text.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8", "the exposition format's type")
        let body = String(decoding: text.body, as: UTF8.self)
        XCTAssertTrue(body.contains("expserver_requests_total{type=\"file_serve\"}"))
        XCTAssertTrue(body.contains("expserver_request_duration_seconds_bucket{route=\"servers[0] /\",le=\"+Inf\"}"))
        // Each metrics request counts once (they were counted twice), the route-less `/api` included.
        let metricsType = #"expserver_requests_total{type="metrics"} "#
        func metricsCount(_ body: String) -> Int? {
            body.split(separator: "\n").first { $0.hasPrefix(metricsType) }.flatMap { Int($0.dropFirst(metricsType.count)) }
        }
        XCTAssertEqual(metricsCount(body), 2, "/stats, then this /metrics")
        let again = String(decoding: try exchange(s, getRequest("/metrics")).response.body, as: UTF8.self)
        XCTAssertEqual(metricsCount(again), 3)
        // The reference parser (prometheus_client, installed by .ci/run) must accept it.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try body.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import sys
            try:
                from prometheus_client.parser import text_string_to_metric_families
            except ImportError:
                sys.exit(77)
            families = list(text_string_to_metric_families(open(sys.argv[1]).read()))
            names = {f.name for f in families}
            assert "expserver_requests" in names, names
            assert "expserver_request_duration_seconds" in names, names
            print(len(families))
            """, file.path]
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus == 77 { throw XCTSkip("prometheus_client is not installed") }
        XCTAssertEqual(p.terminationStatus, 0, "prometheus_client rejected the exposition")
    }
}
