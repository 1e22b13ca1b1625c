import ControlProtocol
import Foundation
import NIOCore
import NIOPosix
import XCTest
@testable import ServerCore

/// A control connection must deliver a whole request within the request timeout (here 300 ms,
/// 30 s in the daemon), from its start and from the end of each answer: a partial request or a
/// silent connection is closed, not held for ever. (On a 127.0.0.1 TCP listener, as in
/// `ControlRefusalTests`, every caller is a stranger: what is tested here never gets that far.)
final class ControlConnectionTimeoutTests: InProcessControlTestCase {
    override func setUpWithError() throws {
        try startControl(router: ControlRouter(), requestTimeout: .milliseconds(300), audit: { _ in })
    }

    func client() throws -> RawClient { try RawClient(port: try XCTUnwrap(server.localAddress?.port), timeout: 5) }

    func testPartialRequestIsClosed() throws {
        let c = try client()
        try c.send("GET /v1/status HTTP/1.1\r\nHost: local")
        let started = Date()
        let (bytes, closed) = c.readAll()
        XCTAssertTrue(closed, "still open after the receive timeout")
        XCTAssertEqual(bytes, [], "closed without an answer")
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
    }

    func testSilentConnectionIsClosed() throws {
        XCTAssertTrue(try client().readAll().closed)
    }

    func testDefaultIsThirtySeconds() {
        XCTAssertEqual(ControlServer.requestTimeout, .seconds(30))
    }
}
