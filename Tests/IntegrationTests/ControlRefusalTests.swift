import ControlProtocol
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import XCTest
@testable import ServerCore

/// A refused caller gets 403, an audit record and its connection closed, and the audit write (a blocking SQLite commit)
/// runs on the thread pool, never on the event loop, and is committed before the 403 is sent.
///
/// The control pipeline runs here on a 127.0.0.1 TCP listener: there the kernel reports no peer
/// credentials of a local user (SO_PEERCRED gives the overflow uid, or fails), so every caller is
/// a stranger even when the tests run as root.
final class ControlRefusalTests: InProcessControlTestCase {
    struct Seen: Sendable {
        var records: [AuditRecord] = []
        var onEventLoop: [Bool] = []
    }

    final class Recorder: Sendable {
        private let state = Mutex(Seen())
        func withLock<T: Sendable>(_ body: (inout Seen) -> T) -> T { state.withLock { body(&$0) } }
    }

    let seen = Recorder()

    override func setUpWithError() throws {
        var router = ControlRouter()
        router.register(.get, Endpoint.status) { _ in .json(["ran": true]) }
        let seen = self.seen
        try startControl(router: router) { record in
            let onLoop = MultiThreadedEventLoopGroup.currentEventLoop != nil
            usleep(50_000)  // a slow commit: the answer must still wait for it
            seen.withLock {
                $0.records.append(record)
                $0.onEventLoop.append(onLoop)
            }
        }
    }

    func testRefusalIsAuditedOffTheEventLoopBeforeTheAnswer() throws {
        let client = try RawClient(port: try XCTUnwrap(server.localAddress?.port))
        try client.send("GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let r = try client.readResponse()
        XCTAssertEqual(r.status, 403, r.text)
        let body = try JSONDecoder().decode(ControlErrorBody.self, from: Data(r.body))
        XCTAssertEqual(body.error.code, "forbidden")
        XCTAssertTrue(body.error.message.hasSuffix("may not use this control socket"), body.error.message)

        let state = seen.withLock { $0 }
        XCTAssertEqual(state.records.count, 1, "audited before the 403 was answered")
        XCTAssertEqual(state.onEventLoop, [false], "the audit write must not block the event loop")
        let record = try XCTUnwrap(state.records.first)
        XCTAssertEqual(record.result, "refused")
        XCTAssertEqual(record.action, "GET /v1/status")

        // The connection is closed after the 403 (it asked for keep-alive): a refused caller
        // gets nothing more from it.
        XCTAssertEqual(r.header("Connection"), "close")
        XCTAssertTrue(client.readAll().closed, "closed after the refusal")
    }

    /// A stranger is refused before anything of the request is parsed: a query that once trapped
    /// the parser (`?=`) gets the 403 like any other, and the record names the path only.
    func testRefusedBeforeTheQueryIsParsed() throws {
        // (Each on its own connection: a refused caller's is closed after the 403.)
        for target in ["/v1/status?=", "/v1/status?ip=%zz&="] {
            let client = try RawClient(port: try XCTUnwrap(server.localAddress?.port))
            try client.send("GET \(target) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            XCTAssertEqual(try client.readResponse().status, 403, target)
        }
        XCTAssertEqual(seen.withLock { $0.records.map(\.action) }, ["GET /v1/status", "GET /v1/status"])
    }
}
