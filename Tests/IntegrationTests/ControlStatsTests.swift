import ControlProtocol
import Foundation
import XCTest

/// `GET /v1/stats` and `GET /v1/metrics` from a running daemon.
final class ControlStatsTests: DaemonTestCase {
    /// The value of the sample `name{labels}` (labels as written) in a Prometheus exposition.
    func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// `GET target` once `ready` holds for its body (an answer is counted just after it is
    /// written), or the last answer after 5 s.
    func control(_ target: String, until ready: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(5)
        var text = ""
        repeat {
            text = try control("GET", target).text
            if ready(text) { break }
            usleep(10_000)
        } while Date() < deadline
        return text
    }

    func testMetricsIsPrometheusText() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        XCTAssertEqual(try getHello(port: port).status, 200)
        let r = try control("GET", Endpoint.metrics)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertTrue(r.text.hasPrefix("# HELP "), r.text)
        XCTAssertTrue(r.text.hasSuffix("\n"))
        XCTAssertFalse(r.text.hasSuffix("\n\n"), "no blank line appended")
        XCTAssertEqual(sample(r.text, #"expserver_requests_total{type="file_serve"}"#), 1)
        XCTAssertEqual(try control("GET", Endpoint.stats).header("Content-Type"), "application/json")
    }

    /// After a restart the Prometheus counters start from this process's counts (a counter that
    /// goes down is a reset to Prometheus: a baseline saved every flush_ms goes down after a
    /// kill -9, and the whole history became one spike); the JSON totals continue.
    func testMetricsCountersStartAtZeroOnRestartWhileTotalsContinue() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        for _ in 0..<3 { XCTAssertEqual(try getHello(port: port).status, 200) }
        _ = try control(Endpoint.stats) { $0.contains(#""req_total":3"#) }
        daemon?.shutdown(grace: .zero)  // saves the totals
        daemon = nil

        let restartedAt = Date().timeIntervalSince1970
        try startDaemon(ports: [port])
        XCTAssertEqual(try getHello(port: port).status, 200)
        let text = try control(Endpoint.metrics) { self.sample($0, #"expserver_responses_total{class="2xx"}"#) ?? 0 >= 1 }
        XCTAssertEqual(sample(text, #"expserver_requests_total{type="file_serve"}"#), 1, text)
        XCTAssertEqual(sample(text, #"expserver_responses_total{class="2xx"}"#), 1)
        XCTAssertEqual(sample(text, #"expserver_connections_accepted_total"#), 1)
        XCTAssertEqual(sample(text, #"expserver_sent_bytes_total"#).map { $0 > 0 && $0 < 1000 }, true)
        let started = try XCTUnwrap(sample(text, "expserver_start_time_seconds"))
        XCTAssertEqual(started, restartedAt, accuracy: 10)
        XCTAssertGreaterThanOrEqual(started, restartedAt - 1, "the new process's start")

        let stats = try control("GET", Endpoint.stats).json(StatsResponse.self)
        XCTAssertEqual(stats.totals["req_total"], 4, "the JSON totals include the persisted ones")
        XCTAssertEqual(stats.totals["req_file_serve"], 4)
        XCTAssertEqual(stats.totals["res_all_2xx"], 4)
        XCTAssertEqual(stats.totals["conn_accepted"], 4)
    }

    /// `since` older than the history kept: the window starts where the history does (this
    /// process's start, then the oldest sample) and says so, rather than reporting the
    /// all-time totals as the change over the window asked for.
    func testWindowOlderThanTheHistoryKeptStartsWhereTheHistoryDoes() throws {
        let port = freePort()
        let before = Date().timeIntervalSince1970
        try startDaemon(ports: [port])
        for _ in 0..<3 { XCTAssertEqual(try getHello(port: port).status, 200) }
        _ = try control(Endpoint.stats) { $0.contains(#""req_total":3"#) }
        // No sample saved yet (flush_ms 5000): the window is this process's life.
        let first = try XCTUnwrap(try control("GET", Endpoint.stats + "?since=1000").json(StatsResponse.self).window)
        XCTAssertGreaterThanOrEqual(first.since, before - 1)
        XCTAssertLessThan(first.seconds, 60)
        XCTAssertEqual(first.deltas["req_total"], 3)
        daemon?.shutdown(grace: .zero)  // saves a sample: the oldest kept
        daemon = nil

        try startDaemon(ports: [port])
        XCTAssertEqual(try getHello(port: port).status, 200)
        _ = try control(Endpoint.stats) { $0.contains(#""req_total":4"#) }
        let now = Date().timeIntervalSince1970
        let sample = try XCTUnwrap(try control("GET", Endpoint.stats + "?since=\(Int(now) + 1)").json(StatsResponse.self).window?.since)
        let asked = Int(now) - 3600
        let window = try XCTUnwrap(try control("GET", Endpoint.stats + "?since=\(asked)").json(StatsResponse.self).window)
        XCTAssertEqual(window.since, sample, "from the oldest sample kept")
        XCTAssertGreaterThan(window.since, Double(asked))
        XCTAssertLessThan(window.seconds, 60, "the span covered, not the hour asked")
        XCTAssertEqual(window.deltas["req_total"], 1, "what was counted since then, not the 4 of all time")
    }

    /// 3,000 clients (forwarded by a trusted proxy) with one request each: the top clients carry
    /// their over-count, and each made (at least, and here exactly) one request.
    func testTopClientsCarryTheirOvercount() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port], extra: #""acl": { "trusted_proxies": ["127.0.0.1"] },"#))
        daemon = try makeDaemon()
        let proxy = try RawClient(port: port)
        for i in 0..<3000 {
            try proxy.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 10.0.\(i / 256).\(i % 256)\r\n\r\n")
            XCTAssertEqual(try proxy.readResponse().status, 200)
        }
        let text = try control(Endpoint.stats) { $0.contains(#""req_total":3000"#) }
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let clients = try XCTUnwrap(object["top_clients"] as? [[String: Any]])
        XCTAssertEqual(clients.count, 10)
        XCTAssertGreaterThan(clients.compactMap { $0["requests"] as? Int }.max() ?? 0, 1, "the table's counts are upper bounds")
        for c in clients {
            let requests = try XCTUnwrap(c["requests"] as? Int), overcount = c["overcount"] as? Int ?? 0
            XCTAssertEqual(requests - overcount, 1, "\(c)")
        }
    }
}
