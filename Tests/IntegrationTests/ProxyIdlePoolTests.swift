import ControlProtocol
import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// Idle keep-alive connections to an upstream that takes no new requests (drained or disabled
/// over the control socket, or removed from the config by a reload) are closed; the fake upstream
/// sees them end. Those to an active upstream stay open (the next request reuses them), and a
/// request in flight when its upstream is drained is answered, its connection closed once idle.
final class ProxyIdlePoolTests: DaemonTestCase {
    var upstreams: [FakeUpstream] = []
    var port = 0

    override func tearDown() {
        super.tearDown()
        for u in upstreams { u.stop() }
    }

    /// A daemon (one event loop) proxying `/` to fake upstreams named `ids`.
    func start(_ ids: String...) throws {
        upstreams = try ids.map { try FakeUpstream(id: $0) }
        port = freePort()
        try writeConfig(config(upstreams))
        daemon = try makeDaemon()
    }

    /// (`upstream_keepalive_ms` is long: no idle connection here is too old to be reused.)
    func config(_ ups: [FakeUpstream]) -> String {
        proxyConfigJSON(port: port, upstreams: ups.map(\.address), top: #""timeouts": { "upstream_keepalive_ms": 60000 },"#)
    }

    static func get(port: Int, _ path: String) throws -> HTTPResult {
        let client = try RawClient(port: port, timeout: 10)
        try client.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return try client.readResponse()
    }

    func id(_ path: String = "/") throws -> String? { try Self.get(port: port, path).header("X-Upstream-Id") }

    func post(_ path: String, _ u: FakeUpstream, file: StaticString = #filePath, line: UInt = #line) throws {
        let body = try JSONEncoder().encode(UpstreamAdminRequest(address: u.address))
        let r = try control("POST", path, body: String(decoding: body, as: UTF8.self))
        XCTAssertEqual(r.status, 200, r.text, file: file, line: line)
    }

    /// One request to each of `a` and `b` (round robin): each has one idle connection from us.
    func poolOneEach(_ a: FakeUpstream, _ b: FakeUpstream) throws {
        XCTAssertEqual(Set([try id(), try id()]), [a.id, b.id])
        XCTAssertTrue(pollUntil(timeout: 5) { a.openConnections == 1 && b.openConnections == 1 })
    }

    /// `b`'s idle connection was left open: past a recheck of the sweep, the next request reuses it.
    func assertStillPooled(_ b: FakeUpstream, file: StaticString = #filePath, line: UInt = #line) throws {
        Thread.sleep(forTimeInterval: 0.6)  // (past `IdleConnectionSweep.recheck`)
        XCTAssertEqual(b.openConnections, 1, file: file, line: line)
        XCTAssertEqual(try id(), b.id, file: file, line: line)
        XCTAssertEqual(b.counters.connections, 1, "reused, not reopened", file: file, line: line)
    }

    func assertClosesIdleConnections(after endpoint: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try start("a", "b")
        let (a, b) = (upstreams[0], upstreams[1])
        try poolOneEach(a, b)
        try post(endpoint, a, file: file, line: line)
        XCTAssertTrue(pollUntil(timeout: 5) { a.openConnections == 0 }, "a's idle connection is closed", file: file, line: line)
        try assertStillPooled(b, file: file, line: line)
        XCTAssertEqual(a.requests, 1, file: file, line: line)
    }

    func testDrainingAnUpstreamClosesItsIdleConnections() throws {
        try assertClosesIdleConnections(after: Endpoint.upstreamDrain)
    }

    func testDisablingAnUpstreamClosesItsIdleConnections() throws {
        try assertClosesIdleConnections(after: Endpoint.upstreamDisable)
    }

    /// Weight 0 takes no new requests either: its idle connection goes too.
    func testWeightingAnUpstreamZeroClosesItsIdleConnections() throws {
        try start("a", "b")
        let (a, b) = (upstreams[0], upstreams[1])
        try poolOneEach(a, b)
        let body = try JSONEncoder().encode(UpstreamWeightRequest(address: a.address, weight: 0))
        XCTAssertEqual(try control("POST", Endpoint.upstreamWeight, body: String(decoding: body, as: UTF8.self)).status, 200)
        XCTAssertTrue(pollUntil(timeout: 5) { a.openConnections == 0 }, "a's idle connection is closed")
        try assertStillPooled(b)
    }

    func testAReloadThatRemovesAnUpstreamClosesItsIdleConnections() throws {
        try start("a", "b")
        let (a, b) = (upstreams[0], upstreams[1])
        try poolOneEach(a, b)
        try writeConfig(config([b]))
        let r = try control("POST", Endpoint.reload)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertTrue(pollUntil(timeout: 5) { a.openConnections == 0 }, "a's idle connection is closed")
        try assertStillPooled(b)
    }

    /// A request in flight when its upstream is drained is not touched; its connection goes back
    /// to the pool when it ends, and is closed then.
    func testAConnectionInUseWhenItsUpstreamIsDrainedIsClosedOnceIdle() throws {
        try start("a")
        let a = upstreams[0]
        a.behavior.holdPrefix = "/held"
        final class Outcome: @unchecked Sendable { var status = 0 }  // written before `done`, read after
        let outcome = Outcome()
        let done = DispatchGroup()
        let port = self.port
        DispatchQueue.global().async(group: done) { outcome.status = (try? Self.get(port: port, "/held/1"))?.status ?? -1 }
        XCTAssertTrue(pollUntil(timeout: 5) { a.counters.held == 1 })
        try post(Endpoint.upstreamDrain, a)
        Thread.sleep(forTimeInterval: 0.6)  // (past `IdleConnectionSweep.recheck`)
        XCTAssertEqual(a.openConnections, 1, "in use: left alone")
        a.release()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(outcome.status, 200, "answered")
        XCTAssertTrue(pollUntil(timeout: 5) { a.openConnections == 0 }, "closed once idle")
        XCTAssertEqual(a.counters.completed, 1)
    }
}
