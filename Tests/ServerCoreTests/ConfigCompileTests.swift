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

    /// compat 1.1 verbatim, plus a second virtual server on 0.0.0.0:8001 (the same listener) and 127.0.0.1:8005.
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
            { "listeners": [{ "host": "0.0.0.0", "port": 8001 }, { "host": "127.0.0.1", "port": 8005 }],
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
                       ["0.0.0.0:8001", "0.0.0.0:8002", "0.0.0.0:8003", "0.0.0.0:8004", "127.0.0.1:8005"])
        XCTAssertEqual(c.routing.servers[0].listenerIDs, [0])
        XCTAssertEqual(c.routing.servers[4].listenerIDs, [0, 4])
        XCTAssertEqual(c.routing.serversByListener[0], [0, 4])
        XCTAssertEqual(c.routing.serversByListener[4], [4])
    }

    /// Listeners on one port whose addresses overlap cannot all be bound: refused at load,
    /// naming the second and the one it overlaps. Only identical host strings share a socket.
    func testOverlappingListenersAreRefused() throws {
        func compile(_ a: String, _ b: String, port: Int = 18111) throws -> RuntimeConfig {
            let json = #"{ "servers": [ { "listeners": [{ "host": "\#(a)", "port": \#(port) }] },"#
                + #" { "listeners": [{ "host": "\#(b)", "port": 18111 }], "hostnames": ["b.test"] } ] }"#
            return try ConfigCompiler.compile(try XPSConfig.parse(Data(json.utf8)), configPath: nil, baseDirectory: root)
        }
        func assertOverlap(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try compile(a, b), "\(a) / \(b)", file: file, line: line) { error in
                let e = error as? ConfigError
                XCTAssertEqual(e?.path, "servers[1].listeners[0]", "\(error)", file: file, line: line)
                XCTAssertTrue(e?.message.contains("overlaps servers[0].listeners[0]") == true, "\(error)", file: file, line: line)
            }
        }
        assertOverlap("0.0.0.0", "127.0.0.1")
        assertOverlap("127.0.0.1", "0.0.0.0")
        assertOverlap("localhost", "127.0.0.1")
        assertOverlap("::", "127.0.0.1")
        assertOverlap("0.0.0.0", "::")
        assertOverlap("::", "::1")
        assertOverlap("::1", "0:0:0:0:0:0:0:1")
        // Identical hosts share one listener; disjoint addresses or other ports are fine.
        XCTAssertEqual(try compile("127.0.0.1", "127.0.0.1").listeners.count, 1)
        XCTAssertEqual(try compile("127.0.0.1", "127.0.0.2").listeners.count, 2)
        XCTAssertEqual(try compile("0.0.0.0", "::1").listeners.count, 2)
        XCTAssertEqual(try compile("0.0.0.0", "127.0.0.1", port: 18112).listeners.count, 2)
        // "[::1]" is ::1 (bind looked it up as a name: UnknownHost); a host that does not resolve is refused by its key.
        XCTAssertEqual(try compile("[::1]", "127.0.0.1").listeners.first?.host, "::1")
        XCTAssertEqual(try compile("[::1]", "::1").listeners.count, 1)
        XCTAssertThrowsError(try compile("[zz]", "127.0.0.1")) { XCTAssertEqual(($0 as? ConfigError)?.path, "servers[0].listeners[0].host") }
        XCTAssertThrowsError(try compile("nonexistent.invalid", "127.0.0.1")) {
            XCTAssertEqual(($0 as? ConfigError)?.path, "servers[0].listeners[0].host", "\($0)")
        }
    }

    /// Client timeouts are per listener: servers sharing one must have the same effective ones
    /// (else one server's block would apply to the other's clients), refused naming both.
    func testServersSharingAListenerMustHaveTheSameTimeouts() throws {
        func compile(_ a: String, _ b: String, top: String = "") throws -> RuntimeConfig {
            let json = #"{ \#(top) "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": 9001 }]\#(a) },"#
                + #" { "listeners": [{ "host": "127.0.0.1", "port": 9001 }], "hostnames": ["b.test"]\#(b) } ] }"#
            return try ConfigCompiler.compile(try XPSConfig.parse(Data(json.utf8)), configPath: nil, baseDirectory: root)
        }
        let short = #", "timeouts": { "header_ms": 1000 }"#, long = #", "timeouts": { "header_ms": 2000 }"#
        XCTAssertThrowsError(try compile("", short)) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "servers[1].timeouts", "\(error)")
            XCTAssertTrue("\(error)".contains("differ from servers[0] (no timeouts block: the top level's)"), "\(error)")
        }
        XCTAssertThrowsError(try compile(short, long)) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "servers[1].timeouts", "\(error)")
            XCTAssertTrue("\(error)".contains("differ from servers[0].timeouts"), "\(error)")
        }
        XCTAssertThrowsError(try compile(short, "")) { XCTAssertEqual(($0 as? ConfigError)?.path, "servers[1]", "\($0)") }
        // The same effective timeouts, however they are written, are fine.
        let listener = XPSConfig.Listener(host: "127.0.0.1", port: 9001)
        XCTAssertEqual(try compile(short, short).timeouts(for: listener).header, 1000 * 1_000_000)
        XCTAssertEqual(try compile("", short, top: #""timeouts": { "header_ms": 1000 },"#).timeouts(for: listener).header, 1000 * 1_000_000)
        XCTAssertNoThrow(try compile("", ""))
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

    func realpath(_ path: String) -> String? { FileServer.realPath(path) }

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
