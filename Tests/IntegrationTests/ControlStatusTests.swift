import ControlProtocol
import Foundation
import XCTest

/// `GET /v1/status` from a running daemon.
final class ControlStatusTests: DaemonTestCase {
    func testStatusFields() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        let r = try control("GET", Endpoint.status)
        XCTAssertEqual(r.status, 200)
        let status = try r.json(StatusResponse.self)
        XCTAssertEqual(status.version, "0.1.0")
        XCTAssertEqual(status.protocolVersion, ControlProtocolVersion.current)
        XCTAssertEqual(status.pid, getpid())
        XCTAssertEqual(status.configPath, configPath)
        XCTAssertEqual(status.stateDB, stateDBPath)
        XCTAssertEqual(status.controlSocket, socketPath)
        XCTAssertEqual(status.workers, 1)
        XCTAssertEqual(status.listeners, ["127.0.0.1:\(port)"])
        XCTAssertEqual(status.reloads, 0)
        XCTAssertGreaterThanOrEqual(status.uptimeMs, 0)
        XCTAssertLessThan(status.uptimeMs, 60_000)
        XCTAssertEqual(status.startedAt, Date().timeIntervalSince1970, accuracy: 60)
        XCTAssertEqual(Set(try XCTUnwrap(r.object).keys), [
            "version", "protocol_version", "pid", "started_at", "uptime_ms", "config_path", "state_db", "control_socket",
            "workers", "listeners", "reloads",
        ])
    }

    func testStatusIgnoresAQueryString() throws {
        try startDaemon(ports: [freePort()])
        XCTAssertEqual(try control("GET", Endpoint.status + "?verbose=1").status, 200)
    }
}
