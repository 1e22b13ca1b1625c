import Foundation
import XCTest

@testable import ServerCore

/// Every config problem is refused with a `ConfigError` whose path names the offending key.
final class ConfigErrorTests: XCTestCase {
    /// A valid one-server config with `route` as its only route and `extraTop` top-level keys.
    func config(route: String = #"{ "req_path": "/", "type": "redirect", "redirect_url": "http://x/" }"#,
                listener: String = #"{ "host": "127.0.0.1", "port": 8001 }"#, extraTop: String = "") -> String {
        """
        { \(extraTop) "servers": [ { "listeners": [\(listener)], "routes": [\(route)] } ] }
        """
    }

    func assertError(
        _ json: String, path: String, contains fragment: String? = nil, file: StaticString = #filePath, line: UInt = #line
    ) {
        assertError(Data(json.utf8), path: path, contains: fragment, file: file, line: line)
    }

    func assertError(
        _ json: Data, path: String, contains fragment: String? = nil, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try XPSConfig.parse(json), file: file, line: line) { error in
            guard let e = error as? ConfigError else { return XCTFail("not a ConfigError: \(error)", file: file, line: line) }
            XCTAssertEqual(e.path, path, e.description, file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix(path), e.description, file: file, line: line)
            if let fragment {
                XCTAssertTrue(e.message.contains(fragment), e.description, file: file, line: line)
            }
        }
    }

    func testValidBaseConfigParses() throws {
        let c = try XPSConfig.parse(Data(config().utf8))
        XCTAssertEqual(c.servers.count, 1)
        XCTAssertEqual(c.serverName, "eXpServer")
    }

    func testRedirectURLWithControlCharactersIsRefused() {
        assertError(config(route: #"{ "req_path": "/", "type": "redirect", "redirect_url": "http://x/\r\nSet-Cookie: a=b" }"#),
                    path: "servers[0].routes[0].redirect_url", contains: "control characters")
    }

    func testUnknownKeys() {
        assertError(config(extraTop: #""workerz": 2,"#), path: "workerz", contains: "unknown key")
        assertError(config(listener: #"{ "host": "127.0.0.1", "port": 1, "tls": true }"#), path: "servers[0].listeners[0].tls")
        assertError(config(route: #"{ "req_path": "/", "type": "file_serve", "dir_path": ".", "dir_pth": "x" }"#),
                    path: "servers[0].routes[0].dir_pth", contains: "unknown key")
        // A key of another route type is unknown here too.
        assertError(config(route: #"{ "req_path": "/", "type": "redirect", "redirect_url": "x", "dir_path": "." }"#),
                    path: "servers[0].routes[0].dir_path")
    }

    func testWrongTypes() {
        assertError(config(extraTop: #""workers": "4","#), path: "workers", contains: "integer")
        assertError(config(extraTop: #""workers": 1.5,"#), path: "workers", contains: "integer")
        assertError(config(extraTop: #""server_name": 7,"#), path: "server_name", contains: "string")
        assertError(#"{ "servers": { } }"#, path: "servers", contains: "array")
        assertError(#"{ "servers": [ 3 ] }"#, path: "servers[0]", contains: "object")
        assertError(config(listener: #"{ "host": "127.0.0.1", "port": "8001" }"#), path: "servers[0].listeners[0].port")
        assertError(config(route: #"{ "req_path": "/", "type": "file_serve", "dir_path": ".", "gzip_enable": "false" }"#),
                    path: "servers[0].routes[0].gzip_enable")
        assertError(config(route: #"{ "req_path": "/", "type": "file_serve", "dir_path": ".", "index": [1] }"#),
                    path: "servers[0].routes[0].index[0]")
        assertError(#"[1, 2]"#, path: "(top level)", contains: "object")
    }

    func testUpstreamKeepaliveTimeout() throws {
        let c = try XPSConfig.parse(Data(config(extraTop: #""timeouts": { "upstream_keepalive_ms": 1500 },"#).utf8))
        XCTAssertEqual(c.timeouts.upstreamKeepaliveMs, 1500)
        XCTAssertEqual(try XPSConfig.parse(Data(config().utf8)).timeouts.upstreamKeepaliveMs, 4000, "the default")
        assertError(config(extraTop: #""timeouts": { "upstream_keepalive_ms": 0 },"#), path: "timeouts.upstream_keepalive_ms",
                    contains: "out of range")
        assertError(config(extraTop: #""timeouts": { "upstream_keepalive_ms": "4s" },"#), path: "timeouts.upstream_keepalive_ms")
    }

    func testAnUpstreamCheckedDifferentlyByTwoRoutesIsRefused() throws {
        func proxy(_ path: String, _ check: String) -> String {
            #"{ "req_path": "\#(path)", "type": "reverse_proxy", "upstreams": ["127.0.0.1:9001", "127.0.0.1:9002"]\#(check) }"#
        }
        let a = #", "health_check": { "path": "/a" }"#, b = #", "health_check": { "path": "/b" }"#
        assertError(#"{ "servers": [ { "listeners": [{ "port": 8001 }], "routes": [ \#(proxy("/x", a)), \#(proxy("/y", b)) ] } ] }"#,
                    path: "servers[0].routes[1].health_check", contains: "also checked by servers[0].routes[0].health_check")
        // The same check twice, or a check and no check, is fine.
        _ = try XPSConfig.parse(Data(#"{ "servers": [ { "listeners": [{ "port": 8001 }], "routes": [ \#(proxy("/x", a)), \#(proxy("/y", a)), \#(proxy("/z", "")) ] } ] }"#.utf8))
    }

    /// One address, one passive-health state: its max_fails and fail_timeout_ms must agree
    /// across routes (the string form means the defaults, 1 and 10000).
    func testPassiveHealthLimitsOfOneUpstreamMustAgree() throws {
        func routes(_ first: String, _ second: String) -> String {
            #"{ "servers": [ { "listeners": [{ "port": 8001 }], "routes": [ "#
                + #"{ "req_path": "/x", "type": "reverse_proxy", "upstreams": ["127.0.0.1:9002", \#(first)] }, "#
                + #"{ "req_path": "/y", "type": "reverse_proxy", "upstreams": [\#(second), "127.0.0.1:9004"] } ] } ] }"#
        }
        assertError(routes(#"{ "address": "127.0.0.1:9001", "max_fails": 3 }"#, #""127.0.0.1:9001""#),
                    path: "servers[0].routes[1].upstreams[0].max_fails", contains: "1 here but 3 at servers[0].routes[0].upstreams[1] for 127.0.0.1:9001")
        assertError(routes(#"{ "address": "127.0.0.1:9001", "fail_timeout_ms": 500 }"#, #"{ "address": "127.0.0.1:9001", "fail_timeout_ms": 900 }"#),
                    path: "servers[0].routes[1].upstreams[0].fail_timeout_ms", contains: "900 here but 500")
        // The same limits (given or by default), or another address, are fine.
        _ = try XPSConfig.parse(Data(routes(#"{ "address": "127.0.0.1:9001", "max_fails": 1, "fail_timeout_ms": 10000 }"#, #""127.0.0.1:9001""#).utf8))
        _ = try XPSConfig.parse(Data(routes(#"{ "address": "127.0.0.1:9001", "max_fails": 3 }"#, #""127.0.0.1:9003""#).utf8))
        // A route's only upstream: its limits never apply (passive health does not mark it down
        // there), so they do not conflict.
        let solo = #"{ "servers": [ { "listeners": [{ "port": 8001 }], "routes": [ "#
            + #"{ "req_path": "/x", "type": "reverse_proxy", "upstreams": ["127.0.0.1:9002", { "address": "127.0.0.1:9001", "max_fails": 3 }] }, "#
            + #"{ "req_path": "/y", "type": "reverse_proxy", "upstreams": ["127.0.0.1:9001"] } ] } ] }"#
        _ = try XPSConfig.parse(Data(solo.utf8))
    }

    /// An upstream is named one way whatever its spelling: names in lowercase, IPv6 literals
    /// in RFC 5952's form; so two spellings are one upstream, for the agreement check too.
    func testUpstreamAddressesAreNamedOneWay() throws {
        func addresses(_ list: String) throws -> [String] {
            let text = #"{ "servers": [ { "listeners": [{ "port": 8001 }], "routes": [ "#
                + #"{ "req_path": "/", "type": "reverse_proxy", "upstreams": \#(list) } ] } ] }"#
            let config = try XPSConfig.parse(Data(text.utf8))
            return config.servers[0].routes[0].upstreams.map { $0.address }
        }
        XCTAssertEqual(try addresses(#"["LocalHost:80", "[0:0::1]:81", "[2001:DB8:0:0::A]:82", "10.0.0.1:83", "[::ffff:10.0.0.1]:84"]"#),
                       ["localhost:80", "[::1]:81", "[2001:db8::a]:82", "10.0.0.1:83", "[::ffff:10.0.0.1]:84"])
        XCTAssertEqual(HostPort.canonicalAddress("LOCALHOST:3000"), "localhost:3000")
        XCTAssertEqual(HostPort.canonicalAddress("[0:0:0:0:0:0:0:1]:80"), "[::1]:80")
        for mapped in ["[::FFFF:7f00:1]:80", "[0:0:0:0:0:ffff:7f00:0001]:80", "[::ffff:127.0.0.1]:80"] {
            XCTAssertEqual(HostPort.canonicalAddress(mapped), "[::ffff:127.0.0.1]:80", mapped)
        }
        XCTAssertEqual(HostPort.canonicalAddress("not an address"), "not an address")
        let conflict = #"{ "servers": [ { "listeners": [{ "port": 8001 }], "routes": [ "#
            + #"{ "req_path": "/x", "type": "reverse_proxy", "upstreams": ["a:1", { "address": "[::1]:9001", "max_fails": 3 }] }, "#
            + #"{ "req_path": "/y", "type": "reverse_proxy", "upstreams": ["[0::1]:9001", "b:1"] } ] } ] }"#
        assertError(conflict, path: "servers[0].routes[1].upstreams[0].max_fails", contains: "for [::1]:9001")
    }

    func testPortOutOfRange() {
        assertError(config(listener: #"{ "host": "127.0.0.1", "port": 70000 }"#), path: "servers[0].listeners[0].port",
                    contains: "70000 is out of range")
        assertError(config(listener: #"{ "host": "127.0.0.1", "port": 0 }"#), path: "servers[0].listeners[0].port")
        assertError(config(listener: #"{ "host": "127.0.0.1" }"#), path: "servers[0].listeners[0].port", contains: "required")
    }

    func testMissingOrEmptyServers() {
        assertError(#"{ "server_name": "x" }"#, path: "servers", contains: "required")
        assertError(#"{ "servers": [] }"#, path: "servers")
        assertError(#"{ "servers": [ { "routes": [] } ] }"#, path: "servers[0].listeners")
    }

    func testBadRouteType() {
        assertError(config(route: #"{ "req_path": "/", "type": "metricz" }"#), path: "servers[0].routes[0].type", contains: "metricz")
        assertError(config(route: #"{ "req_path": "/" }"#), path: "servers[0].routes[0].type", contains: "required")
        assertError(config(route: #"{ "req_path": "nope", "type": "redirect", "redirect_url": "x" }"#),
                    path: "servers[0].routes[0].req_path")
    }

    /// A req_path that no request path can ever match (they are cut at ? and #, percent-decoded
    /// and normalised before matching) is refused, as is a second route with the same req_path.
    /// Routes eXpServer loads but that cannot work load here too (its configs run unchanged), each
    /// with a warning naming its key: a req_path no request can match, a second route with a taken
    /// req_path (the first wins the tie).
    func testReqPathThatCanNeverMatchIsAWarning() throws {
        func route(_ reqPath: String) -> String { #"{ "req_path": "\#(reqPath)", "type": "redirect", "redirect_url": "x" }"# }
        func warnings(_ json: String) throws -> [ConfigError] {
            try ConfigCompiler.compile(try XPSConfig.parse(Data(json.utf8)), configPath: nil, baseDirectory: "/").warnings
        }
        for bad in ["/a/../b", "/a/./b", "/..", "/.", "/a/..", "/q?x", "/a#b", "/a%20b", "/a//b", "//"] {
            let w = try warnings(config(route: route(bad)))
            XCTAssertEqual(w.map(\.path), ["servers[0].routes[0].req_path"], bad)
            XCTAssertTrue(w.first?.message.contains("can never match") == true, "\(w)")
        }
        for good in ["/", "/a", "/a/", "/a/b.c/", "/..a", "/a.", "/~user", "/a b"] {
            XCTAssertEqual(try warnings(config(route: route(good))).count, 0, good)
        }
        let dup = try warnings(config(route: [route("/a"), route("/b"), route("/a")].joined(separator: ", ")))
        XCTAssertEqual(dup.map(\.path), ["servers[0].routes[2].req_path"])
        XCTAssertTrue(dup.first?.message.contains("is also servers[0].routes[0]'s") == true, "\(dup)")
        // "/a" and "/a/" match different paths; the same req_path in two servers is fine.
        XCTAssertEqual(try warnings(config(route: route("/a") + ", " + route("/a/"))).count, 0)
        let twoServers = #"{ "servers": [ { "listeners": [{ "port": 1 }], "routes": [\#(route("/a"))] },"#
            + #" { "listeners": [{ "port": 2 }], "routes": [\#(route("/a"))] } ] }"#
        XCTAssertEqual(try warnings(twoServers).count, 0)
    }

    func testDirPathMissing() {
        assertError(config(route: #"{ "req_path": "/", "type": "file_serve" }"#), path: "servers[0].routes[0].dir_path",
                    contains: "required")
    }

    func testDirPathDoesNotExist() throws {
        let parsed = try XPSConfig.parse(Data(config(route: #"{ "req_path": "/", "type": "file_serve", "dir_path": "no/such/dir" }"#).utf8))
        XCTAssertThrowsError(try ConfigCompiler.compile(parsed, configPath: nil, baseDirectory: NSTemporaryDirectory())) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "servers[0].routes[0].dir_path", "\(error)")
        }
    }

    func testDirPathIsAFile() throws {
        let file = NSTemporaryDirectory() + "expserver-config-file-\(UUID().uuidString)"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let parsed = try XPSConfig.parse(Data(config(route: #"{ "req_path": "/", "type": "file_serve", "dir_path": "\#(file)" }"#).utf8))
        XCTAssertThrowsError(try ConfigCompiler.compile(parsed, configPath: nil, baseDirectory: "/")) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "servers[0].routes[0].dir_path", "\(error)")
        }
    }

    func testBadUpstreams() {
        func proxy(_ upstreams: String) -> String {
            config(route: #"{ "req_path": "/", "type": "reverse_proxy", "upstreams": \#(upstreams) }"#)
        }
        assertError(proxy(#"["localhost:3000", "host:99999"]"#), path: "servers[0].routes[0].upstreams[1]", contains: "host:99999")
        assertError(proxy(#"["justahost"]"#), path: "servers[0].routes[0].upstreams[0]")
        assertError(proxy(#"["host:"]"#), path: "servers[0].routes[0].upstreams[0]")
        assertError(proxy(#"[]"#), path: "servers[0].routes[0].upstreams")
        assertError(proxy(#"[{ "address": "h:1", "weight": -1 }]"#), path: "servers[0].routes[0].upstreams[0].weight")
        assertError(config(route: #"{ "req_path": "/", "type": "reverse_proxy", "upstreams": ["h:1"], "load_balancing": "random" }"#),
                    path: "servers[0].routes[0].load_balancing")
    }

    /// Upstream addresses that can never be connected to are refused by their key; a name
    /// that does not resolve is a warning (DNS may come up later), and one that does is none.
    func testUpstreamAddressesThatCanNeverWork() throws {
        func proxy(_ upstreams: String) -> String {
            config(route: #"{ "req_path": "/", "type": "reverse_proxy", "upstreams": \#(upstreams) }"#)
        }
        for bad in [" localhost:80", "localhost :80", "local\\thost:80", "localhost:+80", "localhost:-80", "localhost:0x50",
                    "localhost: 80", "[zz]:80", "[1.2.3.4]:80", "[::1:80", "[::1]80"] {
            assertError(proxy(#"["127.0.0.1:1", "\#(bad)"]"#), path: "servers[0].routes[0].upstreams[1]")
        }
        assertError(proxy(#"[{ "address": "localhost:+80" }]"#), path: "servers[0].routes[0].upstreams[0].address", contains: "port")
        let good = try XPSConfig.parse(Data(proxy(#"["[::1]:80", "127.0.0.1:08080", "localhost:80", "nonexistent.invalid:80"]"#).utf8))
        XCTAssertEqual(good.servers[0].routes[0].upstreams.map(\.address), ["[::1]:80", "127.0.0.1:8080", "localhost:80", "nonexistent.invalid:80"])
        // (Looked up by --check only: a start or reload does not wait on DNS.)
        let unresolved = ConfigCompiler.unresolvedUpstreams(good.servers)
        XCTAssertEqual(unresolved.map(\.path), ["servers[0].routes[0].upstreams[3]"], "\(unresolved)")
        XCTAssertTrue(unresolved.first?.message.contains("\"nonexistent.invalid\" does not resolve") == true, "\(unresolved)")
        XCTAssertEqual(try ConfigCompiler.compile(good, configPath: nil, baseDirectory: "/").warnings.count, 0)
    }

    func testBadCIDR() {
        func lists(_ key: String, _ value: String) -> String {
            config(route: #"{ "req_path": "/", "type": "redirect", "redirect_url": "x", "\#(key)": \#(value) }"#)
        }
        assertError(lists("ip_whitelist", #"["127.0.0.1", "10.0.0.0/33"]"#), path: "servers[0].routes[0].ip_whitelist[1]", contains: "10.0.0.0/33")
        assertError(lists("ip_blacklist", #"["300.1.1.1"]"#), path: "servers[0].routes[0].ip_blacklist[0]")
        assertError(lists("ip_blacklist", #"["::1/129"]"#), path: "servers[0].routes[0].ip_blacklist[0]")
        assertError(lists("ip_whitelist", #"[42]"#), path: "servers[0].routes[0].ip_whitelist[0]")
        assertError(lists("ip_whitelist", #""127.0.0.1""#), path: "servers[0].routes[0].ip_whitelist", contains: "array")
    }

    func testGzipLevelOutOfRange() {
        for level in ["10", "-2"] {
            assertError(config(route: #"{ "req_path": "/", "type": "file_serve", "dir_path": ".", "gzip_level": \#(level) }"#),
                        path: "servers[0].routes[0].gzip_level", contains: "out of range")
        }
    }

    func testRedirectStatusOutOfRange() {
        assertError(config(route: #"{ "req_path": "/", "type": "redirect", "redirect_url": "x", "http_status_code": 200 }"#),
                    path: "servers[0].routes[0].http_status_code")
    }

    /// Only the statuses a client follows a Location for: 304 would send a Location with a "not modified".
    /// A redirect's status is taken verbatim from 300-399 (eXpServer); one a client does not follow
    /// is a warning; outside 3xx it is refused.
    func testRedirectStatus() throws {
        func redirect(_ status: Int) -> String {
            config(route: #"{ "req_path": "/", "type": "redirect", "redirect_url": "x", "http_status_code": \#(status) }"#)
        }
        for status in [300, 304, 305, 306, 399] {
            let compiled = try ConfigCompiler.compile(try XPSConfig.parse(Data(redirect(status).utf8)), configPath: nil, baseDirectory: "/")
            XCTAssertEqual(compiled.source.servers[0].routes[0].httpStatusCode, status)
            XCTAssertEqual(compiled.warnings.map(\.path), ["servers[0].routes[0].http_status_code"], "\(status)")
        }
        for status in [301, 302, 303, 307, 308] {
            let compiled = try ConfigCompiler.compile(try XPSConfig.parse(Data(redirect(status).utf8)), configPath: nil, baseDirectory: "/")
            XCTAssertEqual(compiled.source.servers[0].routes[0].httpStatusCode, status)
            XCTAssertEqual(compiled.warnings.count, 0, "\(status)")
        }
        for status in [200, 299, 400] {
            assertError(redirect(status), path: "servers[0].routes[0].http_status_code")
        }
    }

    func testNotJSON() {
        assertError("{ servers: ", path: "", contains: "JSON")
    }

    /// A key given twice is refused by its path: JSONDecoder would keep one silently, so an
    /// appended override (a second `gzip_enable`, a second `timeouts` block) would be ignored.
    func testDuplicateKeysAreRefusedByPath() {
        let a = #"[ { "listeners": [{ "port": 8001 }] } ]"#, b = #"[ { "listeners": [{ "port": 8002 }] } ]"#
        assertError(#"{ "servers": \#(a), "servers": \#(b) }"#, path: "servers", contains: "duplicate key")
        assertError(config(route: #"{ "req_path": "/", "type": "file_serve", "dir_path": ".", "gzip_enable": false, "gzip_enable": true }"#),
                    path: "servers[0].routes[0].gzip_enable", contains: "duplicate key")
        assertError(config(extraTop: #""timeouts": { "header_ms": 1000 }, "timeouts": { "header_ms": 2000 },"#),
                    path: "timeouts", contains: "duplicate key")
        // The same key however it is escaped.
        assertError(config(extraTop: #""workers": 1, "work\u0065rs": 2,"#), path: "workers", contains: "duplicate key")
        // The same key in two objects is no duplicate.
        XCTAssertNoThrow(try XPSConfig.parse(Data(#"{ "servers": [ { "listeners": [{ "port": 1 }, { "port": 2 }] } ] }"#.utf8)))
    }

    /// A number too large for a Double, and bytes that are not UTF-8, are named as such with
    /// their path (JSONDecoder's refusal read "typeMismatch ... Expected to decode Dictionary").
    func testNumberOutOfRangeAndInvalidUTF8AreNamed() {
        assertError(config(extraTop: #""workers": 1e400,"#), path: "workers", contains: "number out of range: 1e400")
        assertError(config(extraTop: #""timeouts": { "header_ms": -1E999 },"#), path: "timeouts.header_ms", contains: "number out of range")
        func latin1(_ json: String) -> Data { Data(json.utf8.map { $0 == UInt8(ascii: "~") ? 0xE9 : $0 }) }
        let text = config(extraTop: #""server_name": "caf~","#)
        let offset = text.utf8.firstIndex(of: UInt8(ascii: "~")).map { text.utf8.distance(from: text.utf8.startIndex, to: $0) }!
        assertError(latin1(text), path: "server_name", contains: "invalid UTF-8 (byte 0xE9 at offset \(offset))")
        assertError(latin1(config(route: #"{ "req_path": "/", "type": "redirect", "redirect_url": "x", "n~": 1 }"#)),
                    path: "servers[0].routes[0]", contains: "invalid UTF-8 in a key")
        assertError(latin1(config(route: #"{ "req_path": "/", "type": "redirect", "redirect_url": "x\\n~" }"#)),
                    path: "servers[0].routes[0].redirect_url", contains: "invalid UTF-8")
    }

    /// The config parser reads valid JSON as JSONDecoder does (escapes, numbers, nesting).
    func testParserReadsWhatJSONDecoderReads() throws {
        let json = #"""
            \#u{FEFF}{ "s": "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00 é", "n": [0, -0, 1, -12, 3.25, 1e3, -2E-2, 123456789012345678901],
              "e": {}, "l": [], "t": true, "f": false, "z": null, "d": { "x": [[{ "y": [1] }]] } }
            """#
        let data = Data(json.utf8)
        XCTAssertEqual(try JSONParser.parse(data), try JSONDecoder().decode(JSONValue.self, from: data))
        for bad in ["{", "{ \"a\": 01 }", "[1,]", "{ \"a\" 1 }", "[\"\\x\"]", "tru", "[1] 2", "[\"\u{01}\"]", "{ \"a\": 1. }"] {
            XCTAssertThrowsError(try JSONParser.parse(Data(bad.utf8)), bad) { XCTAssertTrue($0 is JSONParser.SyntaxError, "\(bad): \($0)") }
        }
        assertError(#"{ "servers": [ } "#, path: "", contains: "not valid JSON at line 1, column 16: expected a value, found '}'")
    }

    /// A syntax error says what was expected and where (line and column, in characters).
    func testSyntaxErrorsSayWhatAndWhere() {
        func error(_ text: String) -> JSONParser.SyntaxError? {
            do {
                _ = try JSONParser.parse(Data(text.utf8))
                return nil
            } catch {
                return error as? JSONParser.SyntaxError
            }
        }
        let cases: [(String, Int, Int, String)] = [
            ("{\n  \"servers\": [\n    { \"listeners\": [] \n  ]\n}", 4, 3, "expected ',' or '}' after the value of \"listeners\", found ']'"),
            (#"{ "a": 1, }"#, 1, 11, "expected a key in double quotes, found '}' (a trailing comma?)"),
            ("[1, 2, ]", 1, 8, "expected a value, found ']' (a trailing comma?)"),
            (#"{ "a" 1 }"#, 1, 7, #"expected ':' after the key "a", found '1'"#),
            (#"{ "a": 'x' }"#, 1, 8, "expected a value, found ''' (strings take double quotes)"),
            (#"{ "a": True }"#, 1, 8, "expected a value, found 'T' (true, false and null are lowercase words)"),
            (#"{ "a": nULL }"#, 1, 8, "expected a value, found 'n' (true, false and null are lowercase words)"),
            (#"{ "a": tru }"#, 1, 8, "expected a value, found 't'"),
            ("not json", 1, 1, "expected a value, found 'n'"),
            ("{ \"é\": \"x\ty\" }", 1, 10, #"a control character (byte 0x9) in a string: write it as an escape, \n or \u00XX"#),
            (#"["a\qb"]"#, 1, 5, #"an unknown escape in a string: \ then 'q' (a backslash is written \\)"#),
            (#"["abc"#, 1, 6, "a string is not closed before the end of the file"),
            (#"{ "a": 012 }"#, 1, 8, "a number with a leading zero"),
            ("[1.]", 1, 4, "a number needs a digit after '.', found ']'"),
            ("[-]", 1, 3, "a number needs a digit after '-', found ']'"),
            (#"{ "a": 1 } x"#, 1, 12, "more after the end of the top-level value"),
            (#"{ "a": "#, 1, 8, "expected a value, found the end of the file"),
            ("// comment\n{}", 1, 1, "expected a value, found '/'"),
            // No comma, no comma hint; CR alone and CR LF end lines too.
            (#"{ "workers": }"#, 1, 14, "expected a value, found '}'"),
            ("[ }", 1, 3, "expected a value, found '}'"),
            ("{\r  \"a\": 1,\r}", 3, 1, "expected a key in double quotes, found '}' (a trailing comma?)"),
            ("{\r\n  \"a\": 1,\r\n}", 3, 1, "expected a key in double quotes, found '}' (a trailing comma?)"),
            ("\u{FEFF}[1,]", 1, 4, "expected a value, found ']' (a trailing comma?)"),
        ]
        for (text, line, column, message) in cases {
            XCTAssertEqual(error(text), JSONParser.SyntaxError(line: line, column: column, message: message), text)
        }
    }

    /// UTF-16 and UTF-32 text is refused, saying which it looks like (one grammar, one path:
    /// JSONDecoder's reading of it let duplicate keys and trailing commas through).
    func testWideEncodingsAreRefusedByName() throws {
        let json = #"{ "servers": [ { "listeners": [{ "port": 8001 }] } ] }"#
        let cases: [(String.Encoding, String)] = [(.utf16LittleEndian, "UTF-16LE"), (.utf16BigEndian, "UTF-16BE"), (.utf16, "UTF-16"),
                                                  (.utf32LittleEndian, "UTF-32LE"), (.utf32BigEndian, "UTF-32BE"), (.utf32, "UTF-32")]
        for (encoding, name) in cases {
            XCTAssertThrowsError(try XPSConfig.parse(XCTUnwrap(json.data(using: encoding))), "\(encoding)") { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("the config must be UTF-8") && text.contains("this looks like \(name)"), "\(encoding): \(text)")
            }
        }
        XCTAssertEqual(try XPSConfig.parse(Data(json.utf8)).servers.count, 1)
        XCTAssertEqual(try XPSConfig.parse(Data(("\u{FEFF}" + json).utf8)).servers.count, 1, "UTF-8 with a byte order mark")
    }

    /// The config file is read with a reason for every failure, never waited on or read whole
    /// when it cannot be a config.
    func testConfigFileReadFailuresSayWhy() throws {
        let dir = NSTemporaryDirectory() + "expserver-cfgread-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func message(_ path: String) -> String {
            do {
                _ = try ConfigLoader.readFile(path)
                return "read"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message(dir + "/missing.json"), "cannot read config file \(dir)/missing.json: No such file or directory")
        XCTAssertEqual(message(dir), "cannot read config file \(dir): it is a directory")
        XCTAssertEqual(mkfifo(dir + "/fifo", 0o600), 0)
        XCTAssertEqual(message(dir + "/fifo"), "cannot read config file \(dir)/fifo: not a regular file", "not waited on")
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/big.json", contents: nil))
        XCTAssertEqual(truncate(dir + "/big.json", off_t(ConfigLoader.maxFileBytes + 1)), 0)
        XCTAssertEqual(message(dir + "/big.json"), "cannot read config file \(dir)/big.json: \(ConfigLoader.maxFileBytes + 1) bytes; a config is at most 16 MiB")
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/ok.json", contents: Data("{}".utf8)))
        XCTAssertEqual(message(dir + "/ok.json"), "read")
        XCTAssertEqual(try ConfigLoader.readFile(dir + "/ok.json"), Data("{}".utf8))
        XCTAssertEqual(message("/proc/self/mem"), "cannot read config file /proc/self/mem: Input/output error", "a reason, in one line")
    }
}
