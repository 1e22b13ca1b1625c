import ControlProtocol
import Foundation
import Synchronization
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `expctl upstream ...` against the built daemon with two upstreams: `drain --wait` returns
/// once the drained upstream's in-flight requests are done, the state survives a restart, weight,
/// enable and disable steer requests at once and are audited, unknown addresses fail with a
/// one-line message.
final class UpstreamControlE2ETests: E2ETestCase {
    var port = 0
    var a: FakeUpstream!
    var b: FakeUpstream!

    override func tearDown() {
        super.tearDown()  // the daemon first
        a?.stop()
        b?.stop()
    }

    func startProxyDaemon(holdAt prefix: String? = nil) throws {
        a = try FakeUpstream(id: "a", behavior: .init(holdPrefix: prefix))
        b = try FakeUpstream(id: "b")
        port = freePort()
        try writeProxyConfig([a, b])
        try restartDaemon()
    }

    /// One reverse_proxy route on `port` over `upstreams`.
    func writeProxyConfig(_ upstreams: [FakeUpstream]) throws {
        try writeConfig("""
            { "workers": 1,
              "state_db": "\(stateDBPath)",
              "control": { "socket": "\(socketPath)", "mode": "0600" },
              "shutdown_grace_ms": 500,
              "servers": [ { "listeners": [ { "host": "127.0.0.1", "port": \(port) } ],
                             "routes": [ { "req_path": "/", "type": "reverse_proxy",
                                           "upstreams": [ \(upstreams.map { "\"\($0.address)\"" }.joined(separator: ", ")) ] } ] } ] }
            """)
    }

    @discardableResult
    func restartDaemon() throws -> Launched {
        let launched = try launchDaemon([configPath, "--pid-file", pidFilePath])
        try waitReady(launched)
        return launched
    }

    func upstreams() throws -> [UpstreamInfo] { try expctlJSON(UpstreamListResponse.self, ["upstream", "list"]).upstreams }
    func info(_ address: String) throws -> UpstreamInfo { try XCTUnwrap(upstreams().first { $0.address == address }) }

    /// The upstream ids of `n` sequential requests.
    func ids(_ n: Int, path: String = "/x") throws -> [String] {
        try (0..<n).map { _ in
            let (status, body) = try httpGet(port: port, path: path)
            XCTAssertEqual(status, 200)
            return body
        }
    }

    func testDrainWaitReturnsOnceItsInFlightRequestsAreDone() throws {
        try startProxyDaemon(holdAt: "/held")
        // Round robin: the 1st and 3rd request wait at a, the 2nd and 4th are answered by b.
        let clients = (0..<4).map { BackgroundGet(port: port, path: "/held/\($0)") }
        for (i, c) in clients.enumerated() {
            c.start()
            XCTAssertTrue(waitUntil(timeout: 10) { a.counters.requests + b.counters.completed == i + 1 })
        }
        XCTAssertEqual(a.counters.held, 2)

        let drain = try launch(try Binaries.url("expctl"), ["upstream", "drain", a.address, "--wait", "--timeout", "2m",
                                                             "--reason", "deploy", "--socket", socketPath], name: "drain")
        XCTAssertTrue(waitUntil(timeout: 20) { (try? info(a.address).state) == "draining" })
        XCTAssertEqual(try info(a.address).inFlight, 2)
        // New requests go to b only while a's requests are still in flight.
        XCTAssertEqual(try ids(4), ["b", "b", "b", "b"])
        XCTAssertEqual(a.counters.requests, 2)
        XCTAssertTrue(drain.process.isRunning, "--wait cannot return while 2 requests are in flight: \(drain.stderr)")
        XCTAssertEqual(try info(a.address).state, "draining")

        a.release()
        XCTAssertEqual(waitForExit(drain, timeout: 30), 0, drain.stderr)
        XCTAssertEqual(try String(contentsOfFile: drain.stdoutPath, encoding: .utf8), "\(a.address): drained\n")
        XCTAssertEqual(try info(a.address).inFlight, 0)
        XCTAssertTrue(waitUntil(timeout: 10) { clients.allSatisfy { $0.result != nil } })
        XCTAssertEqual(clients.map { $0.result?.status }, [200, 200, 200, 200])
        XCTAssertEqual(clients.map { $0.result?.body }, ["a", "b", "a", "b"])
        XCTAssertEqual(a.counters.requests, 2, "nothing new reached a")
    }

    /// `--wait` cannot follow an upstream a reload took out of the config: it says so and fails
    /// (rather than report it drained while its requests may still be running).
    func testDrainWaitFailsWhenAReloadRemovesTheUpstream() throws {
        try startProxyDaemon(holdAt: "/held")
        let held = BackgroundGet(port: port, path: "/held/0")
        held.start()
        XCTAssertTrue(waitUntil(timeout: 10) { a.counters.held == 1 })
        let drain = try launch(try Binaries.url("expctl"), ["upstream", "drain", a.address, "--wait", "--timeout", "2m",
                                                             "--socket", socketPath], name: "drain")
        XCTAssertTrue(waitUntil(timeout: 20) { (try? info(a.address).state) == "draining" })
        try writeProxyConfig([b])
        XCTAssertEqual(try expctl(["reload"]).status, 0)
        XCTAssertNotEqual(waitForExit(drain, timeout: 30), 0)
        let stderr = try String(contentsOfFile: drain.stderrPath, encoding: .utf8)
        XCTAssertTrue(stderr.hasPrefix("expctl: ") && stderr.contains("no longer in the config"), stderr)
        XCTAssertEqual(stderr.split(separator: "\n").count, 1, stderr)
        a.release()
        XCTAssertTrue(waitUntil(timeout: 10) { held.result != nil })
        XCTAssertEqual(held.result?.status, 200, "the request it had in flight still finished")
    }

    func testDrainedStateSurvivesARestart() throws {
        try startProxyDaemon()
        let r = try expctl(["upstream", "drain", a.address])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "\(a.address): draining (0 in flight)\n")
        XCTAssertEqual(try ids(3), ["b", "b", "b"])

        let pid = try XCTUnwrap(readPIDFile())
        kill(pid, SIGTERM)
        XCTAssertTrue(waitUntil(timeout: 20) { !processIsAlive(pid) })
        try restartDaemon()
        let after = try info(a.address)
        XCTAssertEqual(after.state, "drained")
        XCTAssertEqual(try info(b.address).state, "active")
        XCTAssertEqual(try ids(3), ["b", "b", "b"])
        XCTAssertEqual(a.counters.requests, 0)

        XCTAssertEqual(try expctl(["upstream", "enable", a.address]).status, 0)
        XCTAssertEqual(Set(try ids(4)), ["a", "b"])
    }

    func testWeightEnableDisableAreAppliedAndAudited() throws {
        try startProxyDaemon()
        var r = try expctl(["upstream", "weight", a.address, "3", "--reason", "bigger box"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "\(a.address): weight 3\n")
        XCTAssertEqual(try info(a.address).effectiveWeight, 3)
        XCTAssertEqual(try info(a.address).configuredWeight, 1)
        let seen = try ids(8)
        XCTAssertEqual(seen.filter { $0 == "a" }.count, 6, "\(seen)")

        r = try expctl(["upstream", "weight", a.address, "0", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try JSONDecoder().decode(UpstreamChangeResponse.self, from: Data(r.stdout.utf8)).weight, 0)
        XCTAssertEqual(try ids(3), ["b", "b", "b"], "weight 0: no new requests")

        XCTAssertEqual(try expctl(["upstream", "weight", a.address, "1"]).status, 0)
        // `config` clears the override: the config's weight again.
        XCTAssertEqual(try expctl(["upstream", "weight", a.address, "7"]).status, 0)
        XCTAssertEqual(try info(a.address).effectiveWeight, 7)
        let cleared = try expctl(["upstream", "weight", a.address, "config"])
        XCTAssertEqual(cleared.status, 0, cleared.stderr)
        XCTAssertEqual(cleared.stdout, "\(a.address): weight from config\n")
        XCTAssertEqual(try info(a.address).effectiveWeight, try info(a.address).configuredWeight)
        r = try expctl(["upstream", "disable", b.address])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "\(b.address): disabled (0 in flight)\n")
        XCTAssertEqual(try info(b.address).state, "disabled")
        XCTAssertEqual(try ids(3), ["a", "a", "a"])
        r = try expctl(["upstream", "enable", b.address])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "\(b.address): active\n")
        XCTAssertEqual(Set(try ids(4)), ["a", "b"])

        let table = try expctl(["upstream", "list"])
        XCTAssertEqual(table.status, 0)
        XCTAssertTrue(table.stdout.contains(a.address) && table.stdout.contains(b.address) && table.stdout.hasPrefix("route"), table.stdout)

        let audit = try expctlJSON(AuditResponse.self, ["audit"]).entries
        XCTAssertEqual(audit.map(\.action), ["upstream weight", "upstream weight", "upstream weight", "upstream weight", "upstream weight", "upstream disable", "upstream enable"])
        XCTAssertEqual(audit.map(\.arguments), ["\(a.address) 3", "\(a.address) 0", "\(a.address) 1", "\(a.address) 7",
                                                "\(a.address) config", b.address, b.address])
        XCTAssertEqual(audit.first?.reason, "bigger box")
        XCTAssertTrue(audit.allSatisfy { $0.result == "ok" && $0.uid == Int64(getuid()) })

        // --json writes every key of the schema: the weight is null when the config's applies.
        let json = try expctl(["upstream", "weight", a.address, "config", "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertTrue(object["weight"] is NSNull, json.stdout)
    }

    func testUnknownAddressFailsWithAOneLineMessage() throws {
        try startProxyDaemon()
        for args in [["drain", "10.9.9.9:80"], ["drain", "10.9.9.9:80", "--wait"], ["enable", "10.9.9.9:80"],
                     ["disable", "10.9.9.9:80"], ["weight", "10.9.9.9:80", "2"]] {
            let r = try expctl(["upstream"] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertEqual(r.stdout, "", "\(args)")
            XCTAssertTrue(r.stderr.hasPrefix("expctl: ") && r.stderr.contains("10.9.9.9:80"), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(args): \(r.stderr)")
        }
        for weight in [["1001"], ["-5"], ["abc"], ["2.5"], ["99999999999999999999"], [], ["1", "2"]] {
            let bad = try expctl(["upstream", "weight", a.address] + weight)
            XCTAssertNotEqual(bad.status, 0, "\(weight)")
            XCTAssertTrue(bad.stderr.hasPrefix("expctl: ") && bad.stderr.contains("weight"), "\(weight): \(bad.stderr)")
            XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, "\(weight): \(bad.stderr)")
        }
        for timeout in ["inf", "infs", "nanm", "0s", "5x", "1e305d"] {
            let bad = try expctl(["upstream", "drain", a.address, "--wait", "--timeout", timeout])
            XCTAssertNotEqual(bad.status, 0, timeout)
            XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, "\(timeout): \(bad.stderr)")
        }
        // Changes the daemon refused are audited as failures; what expctl refused never reached it.
        let audit = try expctlJSON(AuditResponse.self, ["audit"]).entries
        XCTAssertEqual(audit.map(\.action), ["upstream drain", "upstream drain", "upstream enable", "upstream disable", "upstream weight"])
        XCTAssertEqual(audit.map(\.arguments), Array(repeating: "10.9.9.9:80", count: 4) + ["10.9.9.9:80 2"])
        XCTAssertTrue(audit.allSatisfy { $0.result == "error: not_found" }, "\(audit)")
        XCTAssertEqual(try upstreams().map(\.state), ["active", "active"])
    }
}

/// One `GET` on its own thread, waiting up to a minute for the answer; `result` once it is
/// answered (status 0 when it failed).
final class BackgroundGet: @unchecked Sendable {
    let port: Int
    let path: String
    private let outcome = Mutex<(status: Int, body: String)?>(nil)

    init(port: Int, path: String) {
        self.port = port
        self.path = path
    }

    var result: (status: Int, body: String)? { outcome.withLock { $0 } }

    func start() {
        Thread { [self] in
            let r = fetch()
            outcome.withLock { $0 = r }
        }.start()
    }

    private func fetch() -> (status: Int, body: String) {
        guard let fd = connectTCP(port: port, timeout: 60) else { return (0, "") }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
            if n <= 0 { break }
            data += buf[..<n]
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return (0, "") }
        let status = text[..<end.lowerBound].split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, String(text[end.upperBound...]))
    }
}
