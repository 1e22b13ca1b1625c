import ControlProtocol
import Foundation
import XCTest

/// `GET /v1/audit`: one record per mutation or refused request.
final class AuditWireTests: XCTestCase {
    let full = AuditEntry(
        id: 12, time: 1_700_000_123.25, uid: 1000, pid: 31337, action: "reload", arguments: "/etc/xps.json",
        result: "ok", reason: "rotate certs")

    func testEntryKeys() throws {
        let object = try WireJSON.assertRoundTrip(full, keys: ["id", "time", "uid", "pid", "action", "arguments", "result", "reason"])
        XCTAssertEqual(object["id"] as? Int, 12)
        XCTAssertEqual(object["time"] as? Double, 1_700_000_123.25)
        XCTAssertEqual(object["uid"] as? Int, 1000)
        XCTAssertEqual(object["pid"] as? Int, 31337)
        XCTAssertEqual(object["result"] as? String, "ok")
    }

    func testSignalInitiatedEntryHasNoCaller() throws {
        let entry = AuditEntry(id: 1, time: 1, uid: nil, pid: nil, action: "reload", arguments: "x", result: "error: invalid_config", reason: nil)
        let object = try WireJSON.assertRoundTrip(entry, keys: ["id", "time", "uid", "pid", "action", "arguments", "result", "reason"])
        XCTAssertTrue(object["uid"] is NSNull && object["pid"] is NSNull && object["reason"] is NSNull, "null, not left out")
        let script = #"{"id":1,"time":1,"action":"reload","arguments":"x","result":"ok"}"#
        XCTAssertNil(try JSONDecoder().decode(AuditEntry.self, from: Data(script.utf8)).uid, "left out still decodes")
    }

    func testResponseWrapsEntries() throws {
        let refused = AuditEntry(id: 13, time: 2, uid: 65534, pid: 9, action: "GET /v1/status", arguments: "", result: "refused", reason: nil)
        let object = try WireJSON.assertRoundTrip(AuditResponse(entries: [full, refused]), keys: ["entries"])
        let entries = try XCTUnwrap(object["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 2)
        XCTAssertEqual(entries[1]["result"] as? String, "refused")
        XCTAssertEqual(entries[1]["uid"] as? Int, 65534)
    }

    func testEmptyResponse() throws {
        XCTAssertEqual(String(decoding: try WireJSON.encode(AuditResponse(entries: [])), as: UTF8.self), #"{"entries":[]}"#)
    }
}
