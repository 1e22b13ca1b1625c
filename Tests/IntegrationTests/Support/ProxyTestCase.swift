import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// Base class for the reverse-proxy integration tests: fake upstreams (stopped in tearDown after
/// the server), a reverse_proxy config on one free port, and a request helper that reports which
/// upstream answered.
class ProxyTestCase: ServerTestCase {
    private var upstreams: [FakeUpstream] = []
    private var pythons: [PythonHTTPServer] = []

    override func tearDown() {
        super.tearDown()  // the server first, so nothing talks to a stopped upstream
        for u in upstreams { u.stop() }
        for p in pythons { p.stop() }
        upstreams = []
        pythons = []
    }

    /// Fake upstreams named `ids` (tracked, stopped in tearDown).
    func fakes(_ ids: String..., behavior: FakeUpstream.Behavior = .init()) throws -> [FakeUpstream] {
        try ids.map { id in
            let u = try FakeUpstream(id: id, behavior: behavior)
            upstreams.append(u)
            return u
        }
    }

    func python(directory: String) throws -> PythonHTTPServer {
        let p = try PythonHTTPServer(directory: directory)
        pythons.append(p)
        return p
    }

    /// A config with one server on $PORT0 whose `/` route proxies to `upstreams` (JSON values:
    /// quoted addresses or objects); `route` adds keys to the route, `top` to the top level.
    func proxyConfig(_ upstreams: [String], route: String = "", top: String = "", workers: Int = 1) -> String {
        """
        { "workers": \(workers), \(top.isEmpty ? "" : top + ",")
          "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
            "routes": [ { "req_path": "/", "type": "reverse_proxy", "upstreams": [ \(upstreams.joined(separator: ", ")) ]
                          \(route.isEmpty ? "" : "," + route) } ] } ] }
        """
    }

    func quoted(_ u: FakeUpstream) -> String { "\"\(u.address)\"" }

    /// Starts the server proxying to `upstreams` (as plain `"host:port"` entries).
    func startProxy(_ upstreams: [FakeUpstream], route: String = "", top: String = "") throws -> TestServer {
        try startServer(proxyConfig(upstreams.map(quoted), route: route, top: top))
    }

    /// One GET on a fresh connection (from `source`); the status and the answering upstream's id.
    func hit(_ server: TestServer, _ path: String = "/", source: String? = nil) throws -> (status: Int, id: String?) {
        let r = try server.get(path, source: source)
        return (r.status, r.header("X-Upstream-Id"))
    }

    /// The ids of `n` sequential requests.
    func ids(_ server: TestServer, _ n: Int, source: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        try (0..<n).map { _ in
            let (status, id) = try hit(server, source: source)
            XCTAssertEqual(status, 200, file: file, line: line)
            return id ?? "-"
        }
    }

    /// The live state of an upstream in the running server.
    func upstreamState(_ server: TestServer, _ u: FakeUpstream) -> UpstreamState? {
        server.server.state.current.config.upstreams.lookup(u.address)
    }
}
