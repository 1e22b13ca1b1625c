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
}
