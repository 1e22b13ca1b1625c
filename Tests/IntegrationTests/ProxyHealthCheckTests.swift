import ControlProtocol
import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// Active health checks end to end: a failing check marks an upstream down (no requests reach
/// it) and passing ones bring it back; a reload that drops the `health_check` drops its verdict
/// too (nothing would be left to bring the upstream back up).
final class ProxyHealthCheckTests: DaemonTestCase {
    var upstreams: [FakeUpstream] = []

    override func tearDown() {
        super.tearDown()
        for u in upstreams { u.stop() }
    }

    func config(port: Int, _ ups: [FakeUpstream], healthCheck: Bool) -> String {
        let check = healthCheck ? #", "health_check": { "path": "/health", "interval_ms": 100, "timeout_ms": 500, "fall": 1, "rise": 1 }"# : ""
        return proxyConfigJSON(port: port, upstreams: ups.map(\.address), route: check)
    }

    func state(_ u: FakeUpstream) throws -> UpstreamState {
        try XCTUnwrap(daemon?.http.state.current.config.upstreams.lookup(u.address))
    }

    /// Waits (bounded) until `u`'s state is `name`.
    func waitFor(_ u: FakeUpstream, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let st = try state(u)
        let deadline = Date().addingTimeInterval(5)
        while st.stateName(now: Date().timeIntervalSince1970) != name && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(st.stateName(now: Date().timeIntervalSince1970), name, file: file, line: line)
    }

    func get(port: Int, _ path: String) throws -> HTTPResult {
        let client = try RawClient(port: port)
        try client.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return try client.readResponse()
    }

    func testFailingChecksTakeAnUpstreamOutAndPassingOnesBringItBack() throws {
        let a = try FakeUpstream(id: "a"), b = try FakeUpstream(id: "b")
        upstreams = [a, b]
        let port = freePort()
        try writeConfig(config(port: port, [a, b], healthCheck: true))
        daemon = try makeDaemon()
        a.behavior.status = 503
        try waitFor(a, "down")
        let served = try (0..<6).map { try get(port: port, "/r\($0)").header("X-Upstream-Id") }
        XCTAssertEqual(served, Array(repeating: "b", count: 6), "no request goes to an upstream its checks found down")
        XCTAssertTrue(a.seen.allSatisfy { $0.target == "/health" }, "a got only checks")
        a.behavior.status = 200
        try waitFor(a, "active")
        let after = try (0..<4).map { try get(port: port, "/s\($0)").header("X-Upstream-Id") }
        XCTAssertEqual(Set(after), ["a", "b"], "back in the rotation")
    }

    func testAReloadThatDropsTheCheckDropsItsVerdict() throws {
        let a = try FakeUpstream(id: "a")
        upstreams = [a]
        let port = freePort()
        try writeConfig(config(port: port, [a], healthCheck: true))
        daemon = try makeDaemon()
        a.behavior.status = 503
        try waitFor(a, "down")
        XCTAssertEqual(try get(port: port, "/x").status, 502, "down by its checks: nowhere to send it")

        try writeConfig(config(port: port, [a], healthCheck: false))
        XCTAssertEqual(try control("POST", Endpoint.reload).status, 200)
        try waitFor(a, "active")
        let r = try get(port: port, "/y")
        XCTAssertEqual(r.status, 503, "the request reaches the upstream again (and gets its answer)")
        XCTAssertEqual(r.header("X-Upstream-Id"), "a")
        Thread.sleep(forTimeInterval: 0.3)  // a check still running from before the reload records nothing
        XCTAssertEqual(try state(a).stateName(now: Date().timeIntervalSince1970), "active")
    }

    /// Reloads more often than `interval_ms`, or than a failing probe takes to time out, do not
    /// put the checks off or throw their verdicts away: a check whose settings a reload leaves
    /// as they are runs on untouched.
    func testFrequentReloadsDoNotPutChecksOff() throws {
        for slow in [false, true] {
            let a = try FakeUpstream(id: "a")
            upstreams.append(a)
            // Refused at once (503), or silent until the probe's timeout (300 ms) is over.
            if slow { a.behavior.delayMs = 2000 } else { a.behavior.status = 503 }
            let port = freePort()
            try writeConfig(proxyConfigJSON(port: port, upstreams: [a.address],
                route: #", "health_check": { "path": "/health", "interval_ms": 400, "timeout_ms": 300, "fall": 1, "rise": 1 }"#))
            daemon = try makeDaemon()
            let st = try state(a)
            let deadline = Date().addingTimeInterval(4)
            while st.stateName(now: Date().timeIntervalSince1970) != "down" && Date() < deadline {
                XCTAssertEqual(try control("POST", Endpoint.reload).status, 200)
                Thread.sleep(forTimeInterval: 0.15)
            }
            XCTAssertEqual(st.stateName(now: Date().timeIntervalSince1970), "down", "checked despite a reload every 150 ms (slow: \(slow))")
            daemon?.shutdown(grace: .zero)
            daemon = nil
        }
    }

    /// A reload that changes a check's settings starts it again with them.
    func testAReloadThatChangesTheCheckUsesTheNewOne() throws {
        let a = try FakeUpstream(id: "a")
        upstreams = [a]
        let port = freePort()
        func config(_ path: String) -> String {
            proxyConfigJSON(port: port, upstreams: [a.address],
                route: #", "health_check": { "path": "\#(path)", "interval_ms": 100, "timeout_ms": 300, "fall": 1, "rise": 1 }"#)
        }
        try writeConfig(config("/old"))
        daemon = try makeDaemon()
        XCTAssertTrue(pollUntil(timeout: 5) { a.seen.contains { $0.target == "/old" } })
        try writeConfig(config("/new"))
        XCTAssertEqual(try control("POST", Endpoint.reload).status, 200)
        XCTAssertTrue(pollUntil(timeout: 5) { a.seen.contains { $0.target == "/new" } })
        let count = a.seen.filter { $0.target == "/old" }.count
        Thread.sleep(forTimeInterval: 0.4)
        XCTAssertLessThanOrEqual(a.seen.filter { $0.target == "/old" }.count, count + 1, "the old check stopped")
    }
}
