import Foundation
import XCTest

@testable import ServerCore

/// The tester's config (compat 1.1) loads and compiles: relative `dir_path` against the config
/// file's directory, listeners de-duplicated on host+port, defaults filled in.
final class ConfigCompileTests: XCTestCase {
    var root: String!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "expserver-compile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/public", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/app", withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// compat 1.1 verbatim, plus a second virtual server on 0.0.0.0:8001 (the same listener).
    static let testerConfig = """
        {
          "server_name": "eXpServer",
          "workers": 4,
          "servers": [
            { "listeners": [{ "host": "0.0.0.0", "port": 8001 }],
              "routes": [
                { "req_path": "/", "type": "file_serve", "dir_path": "../public",
                  "index": ["index.html"], "gzip_enable": true, "gzip_level": 8 },
                { "req_path": "/redirect", "type": "redirect", "http_status_code": 302,
                  "redirect_url": "http://localhost:8002/" } ] },
            { "listeners": [{ "host": "0.0.0.0", "port": 8002 }],
              "routes": [ { "req_path": "/", "type": "reverse_proxy", "upstreams": ["localhost:3000"] } ] },
            { "listeners": [{ "host": "0.0.0.0", "port": 8003 }],
              "routes": [ { "req_path": "/", "type": "redirect", "http_status_code": 302,
                            "redirect_url": "https://expserver.github.io" } ] },
            { "listeners": [{ "host": "0.0.0.0", "port": 8004 }] },
            { "listeners": [{ "host": "0.0.0.0", "port": 8001 }, { "host": "127.0.0.1", "port": 8001 }],
              "hostnames": ["other.example"] }
          ]
        }
        """

    func load() throws -> RuntimeConfig {
        let path = root + "/public/xps_config.json"
        try Self.testerConfig.write(toFile: path, atomically: true, encoding: .utf8)
        return try ConfigLoader.load(path: path)
    }

    func testTesterConfigCompiles() throws {
        let c = try load()
        XCTAssertEqual(c.serverName, "eXpServer")
        XCTAssertEqual(c.workers, 4)
        XCTAssertEqual(c.routing.servers.count, 5)
        XCTAssertEqual(c.configPath, root + "/public/xps_config.json")
    }

    func testListenersAreDeduplicated() throws {
        let c = try load()
        XCTAssertEqual(c.listeners.map { "\($0.host):\($0.port)" },
                       ["0.0.0.0:8001", "0.0.0.0:8002", "0.0.0.0:8003", "0.0.0.0:8004", "127.0.0.1:8001"])
        XCTAssertEqual(c.routing.servers[0].listenerIDs, [0])
        XCTAssertEqual(c.routing.servers[4].listenerIDs, [0, 4])
        XCTAssertEqual(c.routing.serversByListener[0], [0, 4])
        XCTAssertEqual(c.routing.serversByListener[4], [4])
    }

    func testRoutesCompiled() throws {
        let c = try load()
        let first = c.routing.servers[0].routes
        guard case .fileServe(let fs) = first.route(for: "/sample.txt")?.action else { return XCTFail("not file_serve") }
        XCTAssertEqual(fs.root.real(), realpath(root + "/public"))
        XCTAssertEqual(fs.index, ["index.html"])
        XCTAssertTrue(fs.gzipEnable)
        XCTAssertEqual(fs.gzipLevel, 8)
        guard case .redirect(let status, let location) = first.route(for: "/redirect/x")?.action else { return XCTFail("not redirect") }
        XCTAssertEqual(status, 302)
        XCTAssertEqual(location, "http://localhost:8002/")
        guard case .reverseProxy(let proxy) = c.routing.servers[1].routes.route(for: "/")?.action else { return XCTFail("not proxy") }
        XCTAssertEqual(proxy.upstreams, [XPSConfig.Upstream(host: "localhost", port: 3000, weight: 1)])
        XCTAssertEqual(proxy.loadBalancing, "round_robin")
        XCTAssertTrue(c.routing.servers[3].routes.isEmpty)
    }

    func testDefaults() throws {
        let parsed = try XPSConfig.parse(Data("""
            { "servers": [ { "listeners": [{ "port": 9000 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "public" },
                          { "req_path": "/r", "type": "redirect", "redirect_url": "/" } ] } ] }
            """.utf8))
        XCTAssertEqual(parsed.serverName, "eXpServer")
        XCTAssertNil(parsed.workers)
        XCTAssertEqual(parsed.servers[0].listeners, [XPSConfig.Listener(host: "0.0.0.0", port: 9000)])
        let file = parsed.servers[0].routes[0]
        XCTAssertFalse(file.gzipEnable)
        XCTAssertEqual(file.gzipLevel, -1)
        XCTAssertEqual(file.index, [])
        XCTAssertEqual(parsed.servers[0].routes[1].httpStatusCode, 302)
        let c = try ConfigCompiler.compile(parsed, configPath: nil, baseDirectory: root, workersOverride: 3)
        XCTAssertEqual(c.workers, 3)
    }

    func testAccessLogPathIsMadeAbsolute() throws {
        let parsed = try XPSConfig.parse(Data("""
            { "access_log": "logs/access.log", "servers": [ { "listeners": [{ "port": 9000 }] } ] }
            """.utf8))
        let c = try ConfigCompiler.compile(parsed, configPath: nil, baseDirectory: root)
        XCTAssertEqual(c.accessLog, root + "/logs/access.log")
    }

    func realpath(_ path: String) -> String? { ConfigCompiler.realPath(path) }

    func testServerTimeoutsOverrideTheTopLevelKeyByKey() throws {
        let parsed = try XPSConfig.parse(Data("""
            { "timeouts": { "header_ms": 5000, "keepalive_ms": 7000, "upstream_read_ms": 900 },
              "servers": [
                { "listeners": [{ "host": "127.0.0.1", "port": 9001 }], "timeouts": { "keepalive_ms": 300 } },
                { "listeners": [{ "host": "127.0.0.1", "port": 9002 }] } ] }
            """.utf8))
        let c = try ConfigCompiler.compile(parsed, configPath: nil, baseDirectory: root)
        let own = c.timeouts(for: XPSConfig.Listener(host: "127.0.0.1", port: 9001))
        XCTAssertEqual(own.keepalive, 300 * 1_000_000, "the server's own value")
        XCTAssertEqual(own.header, 5000 * 1_000_000, "the keys it omits are the top level's")
        XCTAssertTrue(own.respond408, "header_ms was configured (at the top level): 408")
        let other = c.timeouts(for: XPSConfig.Listener(host: "127.0.0.1", port: 9002))
        XCTAssertEqual(other.keepalive, 7000 * 1_000_000)
        XCTAssertEqual(c.timeouts.upstreamReadMs, 900)
    }
}
