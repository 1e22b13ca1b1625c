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
        let reply = ReloadResponse(configPath: "/etc/xps.json", listeners: ["127.0.0.1:8001"], reloads: 2)
        let object = try WireJSON.assertRoundTrip(reply, keys: ["config_path", "listeners", "reloads"])
        XCTAssertEqual(object["config_path"] as? String, "/etc/xps.json")
        XCTAssertEqual(object["reloads"] as? Int, 2)
    }

    func testResponseForTheBuiltInDefault() throws {
        let object = try WireJSON.assertRoundTrip(ReloadResponse(configPath: nil, listeners: [], reloads: 1),
                                                  keys: ["config_path", "listeners", "reloads"])
        XCTAssertTrue(object["config_path"] is NSNull, "null, not left out")
    }
}
