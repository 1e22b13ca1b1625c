import ControlProtocol
import Foundation
import XCTest

/// The error body `{"error":{"code","message"}}` and its stable codes.
final class ErrorWireTests: XCTestCase {
    func testShape() throws {
        let body = ControlErrorBody(code: .payloadTooLarge, message: "too big")
        let object = try WireJSON.assertRoundTrip(body, keys: ["error"])
        let detail = try XCTUnwrap(object["error"] as? [String: Any])
        XCTAssertEqual(Set(detail.keys), ["code", "message"])
        XCTAssertEqual(detail["code"] as? String, "payload_too_large")
        XCTAssertEqual(detail["message"] as? String, "too big")
        XCTAssertEqual(String(decoding: try WireJSON.encode(body), as: UTF8.self),
                       #"{"error":{"code":"payload_too_large","message":"too big"}}"#)
    }

    func testCodesAreStable() {
        let expected: [(ControlErrorCode, String)] = [
            (.badRequest, "bad_request"), (.forbidden, "forbidden"), (.notFound, "not_found"),
            (.methodNotAllowed, "method_not_allowed"), (.payloadTooLarge, "payload_too_large"),
            (.invalidConfig, "invalid_config"), (.storeFailure, "store_failure"), (.internal, "internal"),
        ]
        for (code, raw) in expected {
            XCTAssertEqual(code.rawValue, raw)
            XCTAssertEqual(ControlErrorBody(code: code, message: "m").error.code, raw)
        }
    }

    func testDecodesAnyCodeString() throws {
        // A newer daemon may send a code this client does not know; the body still decodes.
        let body = try JSONDecoder().decode(ControlErrorBody.self, from: Data(#"{"error":{"code":"brand_new","message":"m"}}"#.utf8))
        XCTAssertEqual(body.error.code, "brand_new")
        XCTAssertEqual(body.error.message, "m")
    }
}
