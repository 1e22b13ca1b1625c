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
        for text in ["{", "{\"reason\":}", "reason=x", "{'reason':'x'}", "\u{FF}\u{FE}", "{} {}", #"{"reason":"x",}"#] {
            assertRefused(text, "request body is not valid JSON: line 1, column ")
        }
        assertRefused(#"{"reason":"x",}"#, "expected a key in double quotes, found '}' (a trailing comma?)")
    }

    /// A key given twice is refused (JSONSerialization kept one of them), as are numbers no
    /// double holds.
    func testDuplicateKeysAndHugeNumbersAreRefused() {
        assertRefused(#"{"reason":"a","reason":"b"}"#, "invalid request body: reason: duplicate key")
        XCTAssertThrowsError(try ControlJSON.decode(UpstreamWeightRequest.self, from: Data(#"{"address":"a:1","weight":1e400}"#.utf8),
                                                    fields: UpstreamWeightRequest.fields)) { error in
            XCTAssertEqual((error as? ControlFailure)?.message, "invalid request body: weight: number out of range: 1e400")
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

    /// A wrong type is named by its field, in one line.
    func testWrongType() {
        assertRefused(#"{"reason":42}"#, "invalid request body: reason: expected a string")
        assertRefused(#"{"reason":["a"]}"#, "invalid request body: reason: expected a string")
        func message(_ text: String) -> String? {
            do {
                _ = try ControlJSON.decode(UpstreamWeightRequest.self, from: Data(text.utf8), fields: UpstreamWeightRequest.fields)
                return nil
            } catch {
                return (error as? ControlFailure)?.message
            }
        }
        XCTAssertEqual(message(#"{"address":"a:1","weight":"3"}"#), "invalid request body: weight: expected an integer")
        XCTAssertEqual(message(#"{"address":7,"weight":3}"#), "invalid request body: address: expected a string")
        XCTAssertEqual(message(#"{"address":"a:1","weight":2.5}"#), "invalid request body: weight: expected an integer, found 2.5")
        XCTAssertEqual(message(#"{"address":"a:1"}"#), "invalid request body: weight is required (null: the config's)")
    }

    func testMissingRequiredField() {
        struct Needs: Decodable { var cidr: String }
        XCTAssertThrowsError(try ControlJSON.decode(Needs.self, from: Data("{}".utf8), fields: ["cidr"])) { error in
            XCTAssertEqual((error as? ControlFailure)?.status, .badRequest)
            XCTAssertEqual((error as? ControlFailure)?.message, "invalid request body: cidr: required")
        }
    }

    func testEncoderSortsKeys() throws {
        struct Out: Encodable { var zebra = 1; var apple = 2; var mango = 3 }
        XCTAssertEqual(String(decoding: try ControlJSON.encoder.encode(Out()), as: UTF8.self), #"{"apple":2,"mango":3,"zebra":1}"#)
    }
}
