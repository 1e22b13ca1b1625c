import ControlProtocol
import Foundation
import Logging
import Synchronization
import XCTest
@testable import ServerCore
import TestSupport

/// `POST /v1/reload`: a good config is swapped in (listeners added and removed); a bad one is
/// refused with an error body and the old config keeps serving.
final class ControlReloadTests: DaemonTestCase {
    func testGoodConfigAddsAndRemovesListeners() throws {
        let (kept, removed, added) = (freePort(), freePort(), freePort())
        try startDaemon(ports: [kept, removed])
        XCTAssertEqual(try getHello(port: removed).status, 200)

        try writeConfig(configJSON(ports: [kept, added]))
        let r = try control("POST", Endpoint.reload, body: #"{"reason":"move a port"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        let reply = try r.json(ReloadResponse.self)
        XCTAssertEqual(reply.configPath, configPath)
        XCTAssertEqual(reply.listeners, ["127.0.0.1:\(kept)", "127.0.0.1:\(added)"])
        XCTAssertEqual(reply.reloads, 1)

        let served = try getHello(port: added)
        XCTAssertEqual(served.status, 200)
        XCTAssertEqual(served.text, Self.helloText)
        XCTAssertEqual(try getHello(port: kept).status, 200)
        XCTAssertThrowsError(try RawClient(port: removed), "the removed listener is closed")
        XCTAssertEqual(daemon?.status().listeners, reply.listeners)
        XCTAssertEqual(daemon?.status().reloads, 1)
    }

    /// A kept-alive connection on a listener the reload removed is closed (it would get 404s
    /// from a config with no server there); one on a kept listener goes on.
    func testConnectionsOnARemovedListenerAreClosed() throws {
        let (kept, removed) = (freePort(), freePort())
        try startDaemon(ports: [kept, removed])
        let onRemoved = try RawClient(port: removed), onKept = try RawClient(port: kept)
        for client in [onRemoved, onKept] {
            try client.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            XCTAssertEqual(try client.readResponse().status, 200)
        }
        try writeConfig(configJSON(ports: [kept]))
        XCTAssertEqual(try control("POST", Endpoint.reload).status, 200)
        XCTAssertTrue(onRemoved.readAll().closed, "the connection on the removed listener is closed")
        try onKept.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertEqual(try onKept.readResponse().status, 200, "the kept listener's connection is still served")
    }

    /// Moving a port between addresses in one reload collides with our own listener (closed only
    /// once the new config is in): refused with the system's reason and what to do instead.
    func testMovingAPortBetweenAddressesSaysWhy() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        try writeConfig(configJSON(ports: [port]).replacingOccurrences(of: "\"127.0.0.1\"", with: "\"0.0.0.0\""))
        let r = try control("POST", Endpoint.reload)
        assertError(r, status: 422, code: "invalid_config", contains: "cannot listen on 0.0.0.0:\(port): Address already in use")
        XCTAssertTrue(r.text.contains("this daemon listens on 127.0.0.1:\(port)") && r.text.contains("two reloads"), r.text)
        XCTAssertEqual(try getHello(port: port).status, 200)
    }

    func testReloadWithoutBodyWorks() throws {
        try startDaemon(ports: [freePort()])
        let r = try UnixClient.exchange(socketPath, "POST", Endpoint.reload)
        XCTAssertEqual(r.status, 200, r.text)
    }

    func testBadConfigIsRefusedAndTheOldOneKeepsServing() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        let before = try XCTUnwrap(daemon).config

        try writeConfig(configJSON(ports: [port]).replacingOccurrences(of: "\"workers\": 1,", with: "\"workers\": 1, \"bogus_key\": true,"))
        let r = try control("POST", Endpoint.reload)
        assertError(r, status: 422, code: "invalid_config", contains: "bogus_key")
        XCTAssertTrue(try r.json(ControlErrorBody.self).error.message.contains("still running the old"), r.text)

        try writeConfig("{ this is not json")
        assertError(try control("POST", Endpoint.reload), status: 422, code: "invalid_config", contains: "not valid JSON")

        XCTAssertTrue(try XCTUnwrap(daemon).config === before, "the running config is untouched")
        XCTAssertEqual(daemon?.status().reloads, 0)
        let served = try getHello(port: port)
        XCTAssertEqual(served.status, 200)
        XCTAssertEqual(served.text, Self.helloText)
    }

    func testUnbindableNewListenerChangesNothing() throws {
        let (port, busy) = (freePort(), freePort())
        try startDaemon(ports: [port])
        let holder = try ListeningSocket(port: busy)
        try writeConfig(configJSON(ports: [busy]))
        assertError(try control("POST", Endpoint.reload), status: 422, code: "invalid_config", contains: "\(busy)")
        XCTAssertEqual(daemon?.status().listeners, ["127.0.0.1:\(port)"])
        XCTAssertEqual(try getHello(port: port).status, 200, "the old listener was not closed")
        _ = holder
    }
}

/// What a reload does with the `control` block and the keys it cannot change live.
final class ControlReloadSettingsTests: DaemonTestCase {
    let logged = LoggedMessages()

    /// A daemon on the current config whose warnings land in `logged`.
    func startLoggingDaemon() throws -> Daemon {
        let messages = logged
        let d = try Daemon(options: Daemon.Options(configPath: configPath),
                           logger: Logger(label: "reload-test") { _ in CapturingLogHandler(messages) })
        daemon = d
        return d
    }

    func testRemovedUIDsAndGIDsLoseAccessAtTheReload() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port], control: #""mode": "0600", "allowed_uids": [4242, 4343], "allowed_gids": [777]"#))
        let d = try startLoggingDaemon()
        let (uid4242, uid4343, gid777) = (PeerCredentials(uid: 4242, gid: 9, pid: 1), PeerCredentials(uid: 4343, gid: 9, pid: 1),
                                          PeerCredentials(uid: 5000, gid: 777, pid: 1))
        XCTAssertTrue(d.controlAccess.allows(uid4242) && d.controlAccess.allows(uid4343) && d.controlAccess.allows(gid777))

        try writeConfig(configJSON(ports: [port], control: #""mode": "0600", "allowed_uids": [4343]"#))
        XCTAssertEqual(try control("POST", Endpoint.reload).status, 200)
        XCTAssertFalse(d.controlAccess.allows(uid4242), "removed from allowed_uids")
        XCTAssertFalse(d.controlAccess.allows(gid777), "removed from allowed_gids")
        XCTAssertTrue(d.controlAccess.allows(uid4343))
        XCTAssertEqual(d.restartPending, [], "allowed_uids/gids apply live")
        XCTAssertEqual(logged.warnings, [])
    }

    func testRestartOnlyKeysAreKeptAndReported() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port]))
        let d = try startLoggingDaemon()
        let otherDB = dir + "/other.db"
        try writeConfig(configJSON(ports: [port], control: #""mode": "0660""#)
            .replacingOccurrences(of: "\"\(stateDBPath)\"", with: "\"\(otherDB)\""))
        let reply = try control("POST", Endpoint.reload)
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(try reply.json(ReloadResponse.self).notApplied, ["state_db", "control.mode"], "the answer names them")

        XCTAssertEqual(d.restartPending, ["state_db", "control.mode"])
        XCTAssertEqual(d.status().stateDB, stateDBPath, "the running db is kept")
        XCTAssertFalse(FileManager.default.fileExists(atPath: otherDB))
        let warnings = logged.warnings
        XCTAssertEqual(warnings.count, 2, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.hasPrefix("state_db changed in the config; not applied until the next restart, still \(stateDBPath)") },
                      "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.hasPrefix("control.mode changed") }, "\(warnings)")

        // Still pending at the next reload of the same file; gone once the file says what runs.
        XCTAssertEqual(try control("POST", Endpoint.reload).status, 200)
        XCTAssertEqual(d.restartPending, ["state_db", "control.mode"])
        try writeConfig(configJSON(ports: [port]))
        let settled = try control("POST", Endpoint.reload)
        XCTAssertEqual(settled.status, 200)
        XCTAssertEqual(try settled.json(ReloadResponse.self).notApplied, [])
        XCTAssertEqual(d.restartPending, [])
    }

    /// A restart-only key the next start would refuse (a `state_db` that is a directory, an
    /// `error_log` in a missing directory) refuses the reload now, naming the key; the old config
    /// keeps running.
    func testARestartOnlyKeyTheStartWouldRefuseRefusesTheReload() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port]))
        let d = try startLoggingDaemon()
        try FileManager.default.createDirectory(atPath: dir + "/a-directory", withIntermediateDirectories: true)
        try writeConfig(configJSON(ports: [port]).replacingOccurrences(of: "\"\(stateDBPath)\"", with: "\"\(dir!)/a-directory\""))
        assertError(try control("POST", Endpoint.reload), status: 422, code: "invalid_config", contains: "state_db")
        try writeConfig(configJSON(ports: [port]).replacingOccurrences(
            of: "\"workers\": 1,", with: "\"workers\": 1, \"error_log\": \"\(dir!)/missing/error.log\","))
        assertError(try control("POST", Endpoint.reload), status: 422, code: "invalid_config", contains: "error_log")
        XCTAssertEqual(d.status().reloads, 0)
        XCTAssertEqual(try getHello(port: port).status, 200)
    }

    /// `workers` waits for a restart too, and what reports it (status, the metrics JSON) says
    /// how many run, not what the reloaded file asks for.
    func testWorkersReportedAreTheRunningOnes() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port]))
        let d = try startLoggingDaemon()
        try writeConfig(configJSON(ports: [port]).replacingOccurrences(of: #""workers": 1,"#, with: #""workers": 2,"#))
        XCTAssertEqual(try control("POST", Endpoint.reload).json(ReloadResponse.self).notApplied, ["workers"])
        XCTAssertEqual(d.status().workers, 1)
        guard case .buffer(let body) = d.http.state.dispatcher.metrics(config: d.config, prometheus: false).body else {
            return XCTFail("the metrics JSON is a buffer")
        }
        let metrics = String(buffer: body)
        XCTAssertTrue(metrics.contains(#""workers":1,"#), metrics)
    }
}

/// Log messages at warning and above, for assertions.
final class LoggedMessages: Sendable {
    private let messages = Mutex<[String]>([])
    func append(_ m: String) { messages.withLock { $0.append(m) } }
    var warnings: [String] { messages.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let sink: LoggedMessages
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning
    init(_ sink: LoggedMessages) { self.sink = sink }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { sink.append("\(event.message)") }
}

/// Holds a 127.0.0.1 port in LISTEN state so the daemon cannot bind it.
final class ListeningSocket {
    let fd: CInt
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0, listen(fd, 4) == 0 else { close(fd); throw TestError("cannot hold port \(port): \(errno)") }
    }
    deinit { close(fd) }
}
