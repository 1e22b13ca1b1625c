import ControlProtocol
import Foundation
import XCTest

/// The control socket's answers to requests it refuses, sent as exact bytes: every error has
/// the body `{"error":{"code","message"}}` and the right status.
final class ControlProtocolErrorTests: DaemonTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try startDaemon(ports: [freePort()])
    }

    func testMalformedJSONIs400() throws {
        for body in ["{", "not json"] {
            assertError(try control("POST", Endpoint.reload, body: body), status: 400, code: "bad_request", contains: "not valid JSON: line 1, column ")
        }
        for body in ["[1,2]", "\"reason\""] {
            assertError(try control("POST", Endpoint.reload, body: body), status: 400, code: "bad_request", contains: "not a JSON object")
        }
    }

    func testUnknownFieldIs400AndNamesIt() throws {
        let r = try control("POST", Endpoint.reload, body: #"{"reason":"x","dry_run":true}"#)
        assertError(r, status: 400, code: "bad_request", contains: #"unknown field "dry_run""#)
    }

    func testWrongTypeIs400() throws {
        assertError(try control("POST", Endpoint.reload, body: #"{"reason":7}"#), status: 400, code: "bad_request")
    }

    func testUnknownPathIs404() throws {
        assertError(try control("GET", "/v1/nope"), status: 404, code: "not_found", contains: "/v1/nope")
        assertError(try control("GET", "/v2/status"), status: 404, code: "not_found")
        assertError(try control("GET", "/"), status: 404, code: "not_found")
    }

    func testWrongMethodIs405WithAllowedList() throws {
        assertError(try control("GET", Endpoint.reload), status: 405, code: "method_not_allowed", contains: "(allowed: POST)")
        assertError(try control("DELETE", Endpoint.status), status: 405, code: "method_not_allowed", contains: "(allowed: GET)")
        assertError(try control("POST", Endpoint.audit, body: "{}"), status: 405, code: "method_not_allowed")
    }

    func testOversizeBodyIs413AndClosesTheConnection() throws {
        let body = [UInt8](repeating: UInt8(ascii: " "), count: (64 << 10) + 1)
        let client = try UnixClient(path: socketPath)
        try client.send(UnixClient.request("POST", Endpoint.reload, body: body, keepAlive: true))
        let r = try client.readResponse()
        assertError(r, status: 413, code: "payload_too_large", contains: "65536")
        XCTAssertEqual(r.header("Connection"), "close")
        XCTAssertTrue(client.closedByPeer())
        XCTAssertEqual(daemon?.status().reloads, 0, "nothing was done")
    }

    func testBodyOfExactly64KiBIsAccepted() throws {
        // (A reason is at most 1000 characters: the rest is whitespace, which JSON allows.)
        let prefix = #"{"reason":"r""#, suffix = "}"
        let body = prefix + String(repeating: " ", count: (64 << 10) - prefix.utf8.count - suffix.utf8.count) + suffix
        XCTAssertEqual(body.utf8.count, 64 << 10)
        let r = try control("POST", Endpoint.reload, body: body)
        XCTAssertEqual(r.status, 200, r.text)
    }

    func testKeepAliveServesTwoRequestsOnOneConnection() throws {
        let client = try UnixClient(path: socketPath)
        try client.send(UnixClient.request("GET", Endpoint.status))
        let first = try client.readResponse()
        XCTAssertEqual(first.status, 200)
        XCTAssertNil(first.header("Connection"))
        try client.send(UnixClient.request("GET", "/v1/missing", keepAlive: false))
        let second = try client.readResponse()
        assertError(second, status: 404, code: "not_found")
        XCTAssertEqual(second.header("Connection"), "close")
        XCTAssertTrue(client.closedByPeer())
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let client = try UnixClient(path: socketPath)
        try client.send(UnixClient.request("GET", Endpoint.status) + UnixClient.request("POST", Endpoint.status, body: Array("{}".utf8))
                        + UnixClient.request("GET", Endpoint.audit + "?limit=1", keepAlive: false))
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertEqual(try client.readResponse().status, 405)
        let third = try client.readResponse()
        XCTAssertEqual(third.status, 200)
        XCTAssertNotNil(try? third.json(AuditResponse.self))
    }

    func testAnErrorDoesNotCloseAKeepAliveConnection() throws {
        let client = try UnixClient(path: socketPath)
        try client.send(UnixClient.request("POST", Endpoint.reload, body: Array("{".utf8)))
        XCTAssertEqual(try client.readResponse().status, 400)
        try client.send(UnixClient.request("GET", Endpoint.status, keepAlive: false))
        XCTAssertEqual(try client.readResponse().status, 200)
    }

    func testAnswersAreJSONWithContentLength() throws {
        let r = try control("GET", Endpoint.status)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        XCTAssertEqual(r.header("Content-Length"), String(r.body.count))
        XCTAssertEqual(r.body.last, UInt8(ascii: "\n"), "bodies end with a newline for curl users")
    }

    /// Query pairs without a name, extra `=`, bad escapes: answered (they trapped the daemon).
    func testOddQueriesAreAnsweredAndTheDaemonStaysUp() throws {
        for query in ["?=", "?&", "?=x", "?a=b=c", "?%zz", "?&=&", "?==="] {
            XCTAssertEqual(try control("GET", Endpoint.status + query).status, 200, query)
        }
        // A pair without a name is ignored, not taken for a name: `?=1.2.3.4` gives no `ip`.
        assertError(try control("GET", Endpoint.aclCheck + "?=127.0.0.1"), status: 400, code: "bad_request", contains: "ip must be")
        assertError(try control("GET", Endpoint.aclCheck + "?ip=%zz"), status: 400, code: "bad_request", contains: "%zz")
        XCTAssertEqual(try control("GET", Endpoint.aclCheck + "?ip=127.0.0.1&=").status, 200)
        XCTAssertEqual(try control("GET", Endpoint.status).status, 200, "still up")
    }

    func testBadAuditQueryIs400() throws {
        assertError(try control("GET", Endpoint.audit + "?since=yesterday"), status: 400, code: "bad_request", contains: "since")
        assertError(try control("GET", Endpoint.audit + "?limit=0"), status: 400, code: "bad_request", contains: "limit")
        assertError(try control("GET", Endpoint.audit + "?limit=100001"), status: 400, code: "bad_request", contains: "limit")
    }
}
