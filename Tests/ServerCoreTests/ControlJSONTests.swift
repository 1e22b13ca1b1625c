import ControlProtocol
import Foundation
import XCTest

@testable import ServerCore

/// Request bodies are strict: malformed JSON, non-objects, unknown fields and wrong types are
/// refused with 400 `bad_request`; an empty body is `{}`.
final class ControlJSONTests: XCTestCase {
    func decode(_ text: String) throws -> ReloadRequest {
        try ControlJSON.decode(ReloadRequest.self, from: Data(text.utf8), fields: ["reason"])
    }

    func assertRefused(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try decode(text), text, file: file, line: line) { error in
            guard let failure = error as? ControlFailure else {
                return XCTFail("not a ControlFailure: \(error)", file: file, line: line)
            }
            XCTAssertEqual(failure.status, .badRequest, file: file, line: line)
            XCTAssertEqual(failure.code, .badRequest, file: file, line: line)
            XCTAssertTrue(failure.message.contains(fragment), "\(text): \(failure.message)", file: file, line: line)
        }
    }

    func testAccepts() throws {
        XCTAssertEqual(try decode(#"{"reason":"why"}"#), ReloadRequest(reason: "why"))
        XCTAssertEqual(try decode("{}"), ReloadRequest())
        XCTAssertEqual(try decode(""), ReloadRequest(), "an empty body is {}")
        XCTAssertEqual(try decode(#"{"reason":null}"#), ReloadRequest())
        XCTAssertEqual(try decode(" \n{ \"reason\" : \"x\" }\n"), ReloadRequest(reason: "x"))
    }

    func testMalformedJSON() {
        for text in ["{", "{\"reason\":}", "reason=x", "{'reason':'x'}", "\u{FF}\u{FE}", "{} {}"] {
            assertRefused(text, "not a JSON object")
        }
    }

    func testNotAnObject() {
        for text in ["[]", "[{}]", "\"reason\"", "42", "null", "true"] {
            assertRefused(text, "not a JSON object")
        }
    }

    func testUnknownFieldIsNamed() {
        assertRefused(#"{"reason":"x","force":true}"#, #"unknown field "force""#)
        assertRefused(#"{"Reason":"x"}"#, #"unknown field "Reason""#)
        // The first unknown field in sorted order, so the message is deterministic.
        assertRefused(#"{"zeta":1,"alpha":2}"#, #"unknown field "alpha""#)
    }

    func testWrongType() {
        assertRefused(#"{"reason":42}"#, "invalid request body")
        assertRefused(#"{"reason":["a"]}"#, "invalid request body")
    }

    func testMissingRequiredField() {
        struct Needs: Decodable { var cidr: String }
        XCTAssertThrowsError(try ControlJSON.decode(Needs.self, from: Data("{}".utf8), fields: ["cidr"])) { error in
            XCTAssertEqual((error as? ControlFailure)?.status, .badRequest)
        }
    }

    func testEncoderSortsKeys() throws {
        struct Out: Encodable { var zebra = 1; var apple = 2; var mango = 3 }
        XCTAssertEqual(String(decoding: try ControlJSON.encoder.encode(Out()), as: UTF8.self), #"{"apple":2,"mango":3,"zebra":1}"#)
    }
}
