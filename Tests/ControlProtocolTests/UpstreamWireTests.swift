import ControlProtocol
import Foundation
import XCTest

/// `POST /v1/upstreams/weight`: a weight, or null for the config's weight; the field is required
/// either way (leaving it out is refused rather than taken for a reset).
final class UpstreamWireTests: XCTestCase {
    func testWeightOrNull() throws {
        let set = try WireJSON.assertRoundTrip(UpstreamWeightRequest(address: "127.0.0.1:8001", weight: 3, reason: "big"),
                                               keys: ["address", "weight", "reason"])
        XCTAssertEqual(set["weight"] as? Int, 3)
        let cleared = try WireJSON.assertRoundTrip(UpstreamWeightRequest(address: "127.0.0.1:8001", weight: nil),
                                                   keys: ["address", "weight"])
        XCTAssertTrue(cleared["weight"] is NSNull, "null, not left out")
    }

    func testWeightIsRequired() {
        XCTAssertThrowsError(try JSONDecoder().decode(UpstreamWeightRequest.self, from: Data(#"{ "address": "127.0.0.1:8001" }"#.utf8)))
        XCTAssertThrowsError(try JSONDecoder().decode(UpstreamWeightRequest.self, from: Data(#"{ "address": "a:1", "weight": "3" }"#.utf8)))
        XCTAssertEqual(try JSONDecoder().decode(UpstreamWeightRequest.self, from: Data(#"{ "address": "a:1", "weight": null }"#.utf8)).weight, nil)
    }
}
