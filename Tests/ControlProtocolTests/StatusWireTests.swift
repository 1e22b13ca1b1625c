import ControlProtocol
import Foundation
import XCTest

/// `GET /v1/status`: the key names are a contract for ops scripts.
final class StatusWireTests: XCTestCase {
    let sample = StatusResponse(
        version: "0.1.0", protocolVersion: 1, pid: 4242, startedAt: 1_700_000_000.5, uptimeMs: 1234,
        configPath: "/etc/expserver/xps_config.json", stateDB: "/var/lib/expserver/state.db",
        controlSocket: "/var/lib/expserver/expserverd.sock", workers: 4, listeners: ["127.0.0.1:8001", "0.0.0.0:8002"],
        reloads: 3)

    func testRoundTripWithSnakeCaseKeys() throws {
        let object = try WireJSON.assertRoundTrip(sample, keys: [
            "version", "protocol_version", "pid", "started_at", "uptime_ms", "config_path", "state_db",
            "control_socket", "workers", "listeners", "reloads",
        ])
        XCTAssertEqual(object["protocol_version"] as? Int, 1)
        XCTAssertEqual(object["pid"] as? Int, 4242)
        XCTAssertEqual(object["uptime_ms"] as? Int, 1234)
        XCTAssertEqual(object["started_at"] as? Double, 1_700_000_000.5)
        XCTAssertEqual(object["config_path"] as? String, "/etc/expserver/xps_config.json")
        XCTAssertEqual(object["state_db"] as? String, "/var/lib/expserver/state.db")
        XCTAssertEqual(object["control_socket"] as? String, "/var/lib/expserver/expserverd.sock")
        XCTAssertEqual(object["listeners"] as? [String], ["127.0.0.1:8001", "0.0.0.0:8002"])
    }

    func testBuiltInDefaultConfigHasNoConfigPath() throws {
        var status = sample
        status.configPath = nil
        let data = try WireJSON.encode(status)
        XCTAssertTrue(try WireJSON.object(data)["config_path"] is NSNull, "null, not left out")
        XCTAssertEqual(try JSONDecoder().decode(StatusResponse.self, from: data), status)
    }

    func testDecodesWhatAScriptWouldWrite() throws {
        let json = """
            {"version":"9.9","protocol_version":1,"pid":7,"started_at":1,"uptime_ms":2,"state_db":"/s.db",
             "control_socket":"/c.sock","workers":1,"listeners":[],"reloads":0}
            """
        let s = try JSONDecoder().decode(StatusResponse.self, from: Data(json.utf8))
        XCTAssertEqual(s.pid, 7)
        XCTAssertEqual(s.stateDB, "/s.db")
        XCTAssertEqual(s.controlSocket, "/c.sock")
        XCTAssertNil(s.configPath)
    }

    func testProtocolVersion() {
        XCTAssertEqual(ControlProtocolVersion.current, 1)
    }
}
