import ControlProtocol
import Foundation
import Logging
import XCTest
@testable import ServerCore
import TestSupport

/// A `Daemon` running in-process: config, state db and control socket in a short /tmp directory
/// (sun_path holds 108 bytes), one file_serve route on free 127.0.0.1 ports. Stopped in tearDown.
class DaemonTestCase: XCTestCase {
    var dir: String!
    var daemon: Daemon?
    private var extraDaemons: [Daemon] = []

    var configPath: String { dir + "/xps_config.json" }
    var socketPath: String { dir + "/ctl.sock" }
    var stateDBPath: String { dir + "/state.db" }
    static let helloText = "hello from the control-plane fixture\n"

    override func setUpWithError() throws {
        var template = Array("/tmp/expsrv-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestError("mkdtemp failed: \(errno)") }
        dir = String(cString: made)
        try FileManager.default.createDirectory(atPath: dir + "/public", withIntermediateDirectories: true)
        try Self.helloText.write(toFile: dir + "/public/hello.txt", atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        daemon?.shutdown(grace: .zero)
        daemon = nil
        for d in extraDaemons { d.shutdown(grace: .zero) }
        extraDaemons = []
        if let dir { try? FileManager.default.removeItem(atPath: dir) }
        super.tearDown()
    }

    /// The config for `ports`, with the control block and other top-level keys as given.
    func configJSON(ports: [Int], control: String = #""mode": "0600""#, extra: String = "") -> String {
        let listeners = ports.map { #"{ "host": "127.0.0.1", "port": \#($0) }"# }.joined(separator: ", ")
        return """
            { "workers": 1,
              "state_db": "\(stateDBPath)",
              "control": { "socket": "\(socketPath)", \(control) },
              "shutdown_grace_ms": 200,
              \(extra)
              "servers": [ { "listeners": [ \(listeners) ],
                             "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "public" } ] } ] }
            """
    }

    /// One reverse_proxy route on `port` over `upstreams` (`host:port`), with extra route keys
    /// (`route`, each starting with a comma) and top-level keys (`top`, each ending with one).
    func proxyConfigJSON(port: Int, upstreams: [String], route: String = "", top: String = "") -> String {
        """
        { "workers": 1,
          "state_db": "\(stateDBPath)",
          "control": { "socket": "\(socketPath)", "mode": "0600" },
          "shutdown_grace_ms": 200, \(top)
          "servers": [ { "listeners": [ { "host": "127.0.0.1", "port": \(port) } ],
                         "routes": [ { "req_path": "/", "type": "reverse_proxy",
                                       "upstreams": [ \(upstreams.map { "\"\($0)\"" }.joined(separator: ", ")) ]\(route) } ] } ] }
        """
    }

    func writeConfig(_ json: String) throws {
        try json.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Writes the config for `ports` and starts the daemon on it.
    @discardableResult
    func startDaemon(ports: [Int], control: String = #""mode": "0600""#) throws -> Daemon {
        try writeConfig(configJSON(ports: ports, control: control))
        let d = try makeDaemon()
        daemon = d
        return d
    }

    /// A daemon on the current config file (also for "a second daemon refuses" cases).
    func makeDaemon() throws -> Daemon {
        var logger = Logger(label: "daemon-test")
        logger.logLevel = .critical
        let d = try Daemon(options: Daemon.Options(configPath: configPath), logger: logger)
        if daemon != nil { extraDaemons.append(d) }
        return d
    }

    /// One control request on a fresh connection.
    func control(_ method: String, _ target: String, body: String? = nil) throws -> HTTPResult {
        try UnixClient.exchange(socketPath, method, target, body: body.map { Array($0.utf8) })
    }

    /// GET /hello.txt on `port`.
    func getHello(port: Int) throws -> HTTPResult {
        let client = try RawClient(port: port)
        try client.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return try client.readResponse()
    }

    func assertError(_ r: HTTPResult, status: Int, code: String, contains fragment: String = "",
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        XCTAssertEqual(r.header("Content-Type"), "application/json", file: file, line: line)
        guard let body = try? r.json(ControlErrorBody.self) else {
            return XCTFail("not an error body: \(r.text)", file: file, line: line)
        }
        XCTAssertEqual(Set(r.object?.keys.map { $0 } ?? []), ["error"], file: file, line: line)
        XCTAssertEqual(body.error.code, code, r.text, file: file, line: line)
        if !fragment.isEmpty {
            XCTAssertTrue(body.error.message.contains(fragment), "\(body.error.message) lacks \(fragment)", file: file, line: line)
        }
        XCTAssertFalse(body.error.message.contains("\n"), "one line: \(body.error.message)", file: file, line: line)
    }
}
