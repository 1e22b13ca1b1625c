import ControlProtocol
import Foundation
import XCTest

/// `POST /v1/reload`: request body and answer.
final class ReloadWireTests: XCTestCase {
    func testRequestWithReason() throws {
        let object = try WireJSON.assertRoundTrip(ReloadRequest(reason: "new vhost"), keys: ["reason"])
        XCTAssertEqual(object["reason"] as? String, "new vhost")
    }

    func testRequestWithoutReasonIsAnEmptyObject() throws {
        XCTAssertEqual(String(decoding: try WireJSON.encode(ReloadRequest()), as: UTF8.self), "{}")
        XCTAssertEqual(try JSONDecoder().decode(ReloadRequest.self, from: Data("{}".utf8)), ReloadRequest())
    }

    func testResponseWithSnakeCaseKeys() throws {
        let reply = ReloadResponse(configPath: "/etc/xps.json", listeners: ["127.0.0.1:8001"], reloads: 2, notApplied: ["workers"])
        let object = try WireJSON.assertRoundTrip(reply, keys: ["config_path", "listeners", "reloads", "not_applied"])
        XCTAssertEqual(object["config_path"] as? String, "/etc/xps.json")
        XCTAssertEqual(object["reloads"] as? Int, 2)
        XCTAssertEqual(object["not_applied"] as? [String], ["workers"])
    }

    func testResponseForTheBuiltInDefault() throws {
        let object = try WireJSON.assertRoundTrip(ReloadResponse(configPath: nil, listeners: [], reloads: 1),
                                                  keys: ["config_path", "listeners", "reloads", "not_applied"])
        XCTAssertTrue(object["config_path"] is NSNull, "null, not left out")
        XCTAssertEqual(object["not_applied"] as? [String], [], "an empty list, not left out")
    }

    /// An older daemon's answer has no `not_applied`: nothing pending.
    func testResponseWithoutNotAppliedDecodes() throws {
        let json = #"{"config_path": null, "listeners": [], "reloads": 3}"#
        XCTAssertEqual(try JSONDecoder().decode(ReloadResponse.self, from: Data(json.utf8)).notApplied, [])
    }
}
