import ControlProtocol
import Foundation
import XCTest

@testable import ServerCore

/// What every `StateStore` must do with audit records, run against each implementation.
enum StateStoreContract {
    static func record(_ time: Double, _ action: String = "reload", uid: Int64? = 0, pid: Int64? = 1, result: String = "ok",
                       reason: String? = nil) -> AuditRecord {
        AuditRecord(time: time, uid: uid, pid: pid, action: action, arguments: "args-\(action)", result: result, reason: reason)
    }

    static func appendAndReadBack(_ store: StateStore, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try store.audit(since: nil, limit: 100), [], "a new store is empty", file: file, line: line)
        let first = try store.appendAudit(record(100, "reload", uid: 1000, pid: 42, reason: "because"))
        let second = try store.appendAudit(record(101, "GET /v1/status", uid: nil, pid: nil, result: "refused"))
        XCTAssertGreaterThan(second, first, file: file, line: line)
        let entries = try store.audit(since: nil, limit: 100)
        XCTAssertEqual(entries, [
            AuditEntry(id: first, time: 100, uid: 1000, pid: 42, action: "reload", arguments: "args-reload", result: "ok", reason: "because"),
            AuditEntry(id: second, time: 101, uid: nil, pid: nil, action: "GET /v1/status", arguments: "args-GET /v1/status",
                       result: "refused", reason: nil),
        ], file: file, line: line)
    }

    static func sinceAndLimit(_ store: StateStore, file: StaticString = #filePath, line: UInt = #line) throws {
        for t in [100.0, 200, 300, 400] { try store.appendAudit(record(t, "a\(Int(t))")) }
        func actions(_ since: Double?, _ limit: Int) throws -> [String] { try store.audit(since: since, limit: limit).map(\.action) }
        XCTAssertEqual(try actions(nil, 100), ["a100", "a200", "a300", "a400"], "in time order", file: file, line: line)
        XCTAssertEqual(try actions(200, 100), ["a200", "a300", "a400"], "since is inclusive", file: file, line: line)
        XCTAssertEqual(try actions(200.5, 100), ["a300", "a400"], file: file, line: line)
        XCTAssertEqual(try actions(401, 100), [], file: file, line: line)
        XCTAssertEqual(try actions(nil, 2), ["a300", "a400"], "limit keeps the newest", file: file, line: line)
        XCTAssertEqual(try actions(300, 1), ["a400"], file: file, line: line)
        XCTAssertEqual(try actions(100, 2), ["a300", "a400"], file: file, line: line)
        XCTAssertEqual(try actions(0, 100).count, 4, file: file, line: line)
    }

    static func idsAreUniqueAndIncreasing(_ store: StateStore, file: StaticString = #filePath, line: UInt = #line) throws {
        var ids: [Int64] = []
        for i in 0..<20 { ids.append(try store.appendAudit(record(Double(i))) ) }
        XCTAssertEqual(ids, ids.sorted(), file: file, line: line)
        XCTAssertEqual(Set(ids).count, ids.count, file: file, line: line)
        XCTAssertEqual(try store.audit(since: nil, limit: 100).map(\.id), ids, file: file, line: line)
    }
}
