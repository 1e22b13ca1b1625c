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

    /// The change answer's `weight` is null when the config's applies (it was left out).
    func testChangeResponseWeightIsNullNotLeftOut() throws {
        let object = try WireJSON.assertRoundTrip(UpstreamChangeResponse(address: "a:1", admin: "active", weight: nil, inFlight: 0),
                                                  keys: ["address", "admin", "weight", "in_flight"])
        XCTAssertTrue(object["weight"] is NSNull)
        let old = #"{"address":"a:1","admin":"active","in_flight":0}"#
        XCTAssertNil(try JSONDecoder().decode(UpstreamChangeResponse.self, from: Data(old.utf8)).weight, "left out still decodes")
    }

    /// `last_check` and `last_check_ok` are null before the first health check.
    func testUpstreamInfoKeysAreAlwaysPresent() throws {
        let info = UpstreamInfo(route: "servers[0] /", address: "a:1", configuredWeight: 1, effectiveWeight: 1, state: "active",
                                backup: false, inFlight: 0, requests: 0, failures: 0, healthTransitions: 0, lastCheck: nil, lastCheckOK: nil)
        let object = try WireJSON.assertRoundTrip(info, keys: [
            "route", "address", "configured_weight", "effective_weight", "state", "backup", "in_flight", "requests", "failures",
            "health_transitions", "last_check", "last_check_ok", "latency_p50_ms", "latency_p99_ms",
        ])
        XCTAssertTrue(object["last_check"] is NSNull && object["last_check_ok"] is NSNull)
    }
}
