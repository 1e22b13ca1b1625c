import ControlProtocol
import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// A reload that lowers `timeouts.upstream_read_ms` applies to the next request at once, also on
/// an upstream connection kept alive from before the reload (its read timer was armed with the
/// old, longer delay).
final class ProxyReloadTimeoutTests: DaemonTestCase {
    var upstream: FakeUpstream?

    override func tearDown() {
        super.tearDown()
        upstream?.stop()
    }

    func config(port: Int, upstream: FakeUpstream, readMs: Int) -> String {
        proxyConfigJSON(port: port, upstreams: [upstream.address], route: #", "upstream_keepalive": 8"#,
                        top: #""timeouts": { "upstream_read_ms": \#(readMs) },"#)
    }

    func get(port: Int) throws -> HTTPResult {
        let client = try RawClient(port: port)
        try client.send("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return try client.readResponse()
    }

    func testALoweredReadTimeoutAppliesToAKeptAliveUpstreamConnection() throws {
        let u = try FakeUpstream(id: "a")
        upstream = u
        let port = freePort()
        try writeConfig(config(port: port, upstream: u, readMs: 60_000))
        daemon = try makeDaemon()
        XCTAssertEqual(try get(port: port).status, 200)
        XCTAssertEqual(u.counters.connections, 1)

        try writeConfig(config(port: port, upstream: u, readMs: 300))
        let r = try control("POST", Endpoint.reload)
        XCTAssertEqual(r.status, 200, r.text)

        // The upstream now takes 5 s: longer than the new limit, well within the old one.
        u.behavior.delayMs = 5_000
        let slow = try get(port: port)
        XCTAssertEqual(slow.status, 504, "the new upstream_read_ms applies")
        XCTAssertEqual(u.counters.connections, 1, "on the connection kept from before the reload")
    }
}
