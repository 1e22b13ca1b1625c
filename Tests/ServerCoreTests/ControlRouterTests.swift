import ControlProtocol
import Foundation
import NIOHTTP1
import XCTest

@testable import ServerCore

/// Path → method → handler dispatch and how failures become error bodies.
final class ControlRouterTests: XCTestCase {
    struct Leaky: Error, CustomStringConvertible {
        var description: String { "SQLITE_CORRUPT at /secret/path/state.db (user=admin password=hunter2)" }
    }

    func request(_ method: String, _ path: String, body: String = "") -> ControlRequest {
        ControlRequest(method: method, path: path, query: [:], body: Data(body.utf8),
                       caller: PeerCredentials(uid: 0, gid: 0, pid: 1))
    }

    func errorBody(_ reply: ControlReply, file: StaticString = #filePath, line: UInt = #line) throws -> ControlErrorBody {
        try JSONDecoder().decode(ControlErrorBody.self, from: reply.body)
    }

    var router: ControlRouter {
        var r = ControlRouter()
        r.register(.get, "/v1/thing") { _ in .json(["ok": true]) }
        r.register(.post, "/v1/thing") { req in .json(["echo": String(decoding: req.body, as: UTF8.self)], status: .created) }
        r.register(.delete, "/v1/thing") { _ in .json(["deleted": true]) }
        r.register(.post, "/v1/fail") { _ in throw ControlFailure(.conflict, .badRequest, "already there") }
        r.register(.post, "/v1/leak") { _ in throw Leaky() }
        r.register(.get, "/v1/query") { req in .json(req.query) }
        return r
    }

    func testDispatchesByMethod() throws {
        let get = router.handle(request("GET", "/v1/thing"))
        XCTAssertEqual(get.status, .ok)
        XCTAssertEqual(String(decoding: get.body, as: UTF8.self), #"{"ok":true}"#)
        let post = router.handle(request("POST", "/v1/thing", body: "hi"))
        XCTAssertEqual(post.status, .created)
        XCTAssertEqual(String(decoding: post.body, as: UTF8.self), #"{"echo":"hi"}"#)
        XCTAssertEqual(router.handle(request("DELETE", "/v1/thing")).status, .ok)
    }

    func testUnknownPathIs404() throws {
        for path in ["/v1/nothing", "/v1/thing/", "/v2/thing", "/", "/V1/THING"] {
            let reply = router.handle(request("GET", path))
            XCTAssertEqual(reply.status, .notFound, path)
            let body = try errorBody(reply)
            XCTAssertEqual(body.error.code, "not_found", path)
            XCTAssertTrue(body.error.message.contains(path), body.error.message)
        }
    }

    func testWrongMethodIs405WithTheAllowedList() throws {
        let reply = router.handle(request("PUT", "/v1/thing"))
        XCTAssertEqual(reply.status, .methodNotAllowed)
        let body = try errorBody(reply)
        XCTAssertEqual(body.error.code, "method_not_allowed")
        XCTAssertTrue(body.error.message.contains("(allowed: DELETE, GET, POST)"), body.error.message)
        XCTAssertTrue(body.error.message.hasPrefix("PUT is not allowed on /v1/thing"), body.error.message)

        let one = try errorBody(router.handle(request("GET", "/v1/fail")))
        XCTAssertTrue(one.error.message.hasSuffix("(allowed: POST)"), one.error.message)
    }

    func testMethodsAreCaseSensitive() {
        XCTAssertEqual(router.handle(request("get", "/v1/thing")).status, .methodNotAllowed)
    }

    func testControlFailureKeepsItsStatusCodeAndMessage() throws {
        let reply = router.handle(request("POST", "/v1/fail"))
        XCTAssertEqual(reply.status, .conflict)
        XCTAssertEqual(try errorBody(reply), ControlErrorBody(code: .badRequest, message: "already there"))
    }

    func testUnknownErrorIs500AndLeaksNothing() throws {
        let reply = router.handle(request("POST", "/v1/leak"))
        XCTAssertEqual(reply.status, .internalServerError)
        XCTAssertEqual(try errorBody(reply), ControlErrorBody(code: .internal, message: "internal error"))
        let text = String(decoding: reply.body, as: UTF8.self)
        for secret in ["SQLITE", "secret", "hunter2", "Leaky", "state.db"] {
            XCTAssertFalse(text.contains(secret), text)
        }
    }

    func testLaterRegistrationReplacesTheHandler() {
        var r = router
        r.register(.get, "/v1/thing") { _ in .json(["second": true]) }
        XCTAssertEqual(String(decoding: r.handle(request("GET", "/v1/thing")).body, as: UTF8.self), #"{"second":true}"#)
    }

    func testErrorReplyIsTheWireErrorBody() {
        let reply = ControlReply.error(.payloadTooLarge, .payloadTooLarge, "too big")
        XCTAssertEqual(reply.status, .payloadTooLarge)
        XCTAssertEqual(String(decoding: reply.body, as: UTF8.self), #"{"error":{"code":"payload_too_large","message":"too big"}}"#)
    }

    func testQuerySplitting() {
        let (path, query) = ControlHTTPHandler.split("/v1/audit?since=10&limit=5&flag&x=a%20b")
        XCTAssertEqual(path, "/v1/audit")
        XCTAssertEqual(query, ["since": "10", "limit": "5", "flag": "", "x": "a b"])
        let (plain, none) = ControlHTTPHandler.split("/v1/status")
        XCTAssertEqual(plain, "/v1/status")
        XCTAssertEqual(none, [:])
    }

    /// The control socket's query parsing: pairs without a name are ignored (`?=` trapped it).
    func testQueryPairsWithoutANameAreIgnored() {
        func query(_ uri: String) -> [String: String] { ControlHTTPHandler.split(uri).1 }
        XCTAssertEqual(ControlHTTPHandler.split("/v1/status?=").0, "/v1/status")
        for uri in ["/v1/status?=", "/v1/status?&", "/v1/status?=x", "/v1/status?&&=&", "/v1/status?"] {
            XCTAssertEqual(query(uri), [:], uri)
        }
        XCTAssertEqual(query("/x?a=b=c"), ["a": "b=c"])
        XCTAssertEqual(query("/x?a"), ["a": ""])
        XCTAssertEqual(query("/x?%zz"), ["%zz": ""], "a bad escape is taken as written")
        XCTAssertEqual(query("/x?ip=%3A%3A1&expired=1"), ["ip": "::1", "expired": "1"])
    }

    /// A failed mutation is audited as `error: <code>` with what was known of it; a store
    /// failure is not (its record would go to the store that failed); a success is left to the
    /// domain call.
    func testAuditingFailures() throws {
        let store = InMemoryStateStore()
        let req = request("POST", "/v1/x")
        XCTAssertThrowsError(try ControlAPI.auditingFailures(req, store: store, action: "POST /v1/x") { subject -> Int in
            (subject.action, subject.arguments, subject.reason) = ("thing do", "arg", "why")
            throw ControlFailure(.badRequest, .badRequest, "no")
        })
        XCTAssertThrowsError(try ControlAPI.auditingFailures(req, store: store, action: "thing do") { _ -> Int in
            throw ControlFailure(.internalServerError, .storeFailure, "disk full")
        })
        XCTAssertThrowsError(try ControlAPI.auditingFailures(req, store: store, action: "thing do") { _ -> Int in throw Leaky() })
        XCTAssertEqual(try ControlAPI.auditingFailures(req, store: store, action: "thing do") { _ in 7 }, 7)
        let audit = try store.audit(since: nil, limit: 10)
        XCTAssertEqual(audit.map(\.action), ["thing do", "thing do"])
        XCTAssertEqual(audit.map(\.result), ["error: bad_request", "error: internal"])
        XCTAssertEqual(audit.first?.arguments, "arg")
        XCTAssertEqual(audit.first?.reason, "why")
        XCTAssertEqual(audit.first?.uid, 0)
    }
}
