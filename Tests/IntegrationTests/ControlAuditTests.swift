import ControlProtocol
import Foundation
import XCTest

/// `GET /v1/audit`: reloads (good and bad) are recorded with the caller's uid and pid, in order,
/// and survive a restart on the same state db.
final class ControlAuditTests: DaemonTestCase {
    func testReloadsAreAuditedWithCallerAndReason() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        let start = Date().timeIntervalSince1970
        XCTAssertEqual(try control("POST", Endpoint.reload, body: #"{"reason":"first"}"#).status, 200)
        try writeConfig("[]")
        XCTAssertEqual(try control("POST", Endpoint.reload, body: #"{"reason":"second"}"#).status, 422)

        let entries = try control("GET", Endpoint.audit).json(AuditResponse.self).entries
        XCTAssertEqual(entries.count, 2)
        let (ok, bad) = (entries[0], entries[1])
        XCTAssertEqual(ok.action, "reload")
        XCTAssertEqual(ok.result, "ok")
        XCTAssertEqual(ok.reason, "first")
        XCTAssertEqual(ok.arguments, configPath)
        XCTAssertEqual(ok.uid, Int64(getuid()), "the peer is this test process")
        XCTAssertEqual(ok.pid, Int64(getpid()))
        XCTAssertEqual(ok.time, start, accuracy: 30)
        XCTAssertEqual(bad.action, "reload")
        XCTAssertEqual(bad.result, "error: invalid_config")
        XCTAssertEqual(bad.reason, "second")
        XCTAssertGreaterThan(bad.id, ok.id)
    }

    /// A reload refused before it starts (a bad body) is audited as well.
    func testMalformedReloadIsAudited() throws {
        try startDaemon(ports: [freePort()])
        XCTAssertEqual(try control("POST", Endpoint.reload, body: #"{"reason":"x","dry_run":true}"#).status, 400)
        let entries = try control("GET", Endpoint.audit).json(AuditResponse.self).entries
        XCTAssertEqual(entries.map(\.action), ["reload"])
        XCTAssertEqual(entries.map(\.result), ["error: bad_request"])
        XCTAssertEqual(daemon?.status().reloads, 0)
    }

    func testReadsAreNotAudited() throws {
        try startDaemon(ports: [freePort()])
        _ = try control("GET", Endpoint.status)
        _ = try control("GET", "/v1/nowhere")
        XCTAssertEqual(try control("GET", Endpoint.audit).json(AuditResponse.self).entries, [])
    }

    func testSinceAndLimitQuery() throws {
        try startDaemon(ports: [freePort()])
        for i in 1...3 { XCTAssertEqual(try control("POST", Endpoint.reload, body: #"{"reason":"r\#(i)"}"#).status, 200) }
        let all = try control("GET", Endpoint.audit).json(AuditResponse.self).entries
        XCTAssertEqual(all.map(\.reason), ["r1", "r2", "r3"])
        XCTAssertEqual(try control("GET", Endpoint.audit + "?limit=2").json(AuditResponse.self).entries.map(\.reason), ["r2", "r3"],
                       "the newest two")
        let future = Int(Date().timeIntervalSince1970) + 3600
        XCTAssertEqual(try control("GET", Endpoint.audit + "?since=\(future)").json(AuditResponse.self).entries, [])
        let past = Int(Date().timeIntervalSince1970) - 3600
        XCTAssertEqual(try control("GET", Endpoint.audit + "?since=\(past)&limit=10").json(AuditResponse.self).entries.count, 3)
    }

    func testRecordsSurviveARestartOnTheSameStateDB() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        XCTAssertEqual(try control("POST", Endpoint.reload, body: #"{"reason":"before restart"}"#).status, 200)
        let before = try control("GET", Endpoint.audit).json(AuditResponse.self).entries
        daemon?.shutdown(grace: .zero)
        daemon = nil
        try startDaemon(ports: [port])
        XCTAssertEqual(try control("GET", Endpoint.audit).json(AuditResponse.self).entries, before)
    }
}
