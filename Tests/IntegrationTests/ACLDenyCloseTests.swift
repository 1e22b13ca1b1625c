import ControlProtocol
import Foundation
import XCTest

/// `deny_action: "close"`: a denied peer is closed at accept before anything is read (it sees
/// EOF and no bytes), and a kept-alive connection is closed at its next request without an answer.
final class ACLDenyCloseTests: ACLDaemonTestCase {
    func testDeniedPeerIsClosedAtAcceptWithoutAnyBytes() throws {
        try startACLDaemon(acl: #""deny_action": "close""#)
        try add("deny", "127.0.0.2")

        let silent = try connect(from: "127.0.0.2")
        let seen = silent.readUntilClosed()
        XCTAssertTrue(seen.closed, "closed without waiting for a request")
        XCTAssertEqual(seen.bytes, [])

        let talker = try connect(from: "127.0.0.2")
        try? talker.send(Self.get())
        let answer = talker.readUntilClosed()
        XCTAssertTrue(answer.closed)
        XCTAssertEqual(answer.bytes, [], "no answer at all")

        XCTAssertEqual(try status(from: "127.0.0.1"), 200)
        XCTAssertEqual(try entry("127.0.0.2")?.hits, 2, "refusals at accept are hits")
    }

    func testConfigDenyIsClosedAtAccept() throws {
        try startACLDaemon(acl: #""deny": ["127.0.0.3"], "deny_action": "close""#)
        let seen = try connect(from: "127.0.0.3").readUntilClosed()
        XCTAssertTrue(seen.closed)
        XCTAssertEqual(seen.bytes, [])
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
    }

    func testKeptAliveConnectionIsClosedAtItsNextRequestWithoutAnAnswer() throws {
        try startACLDaemon(acl: #""deny_action": "close""#)
        let client = try connect(from: "127.0.0.2")
        let other = try connect(from: "127.0.0.1")
        try client.send(Self.get(keepAlive: true))
        XCTAssertEqual(try client.readResponse().status, 200)

        try add("deny", "127.0.0.2")
        try client.send(Self.get(keepAlive: true))
        let seen = client.readUntilClosed()
        XCTAssertTrue(seen.closed)
        XCTAssertEqual(seen.bytes, [], "closed without an answer")

        try other.send(Self.get(keepAlive: true))
        XCTAssertEqual(try other.readResponse().status, 200, "another client's connection is untouched")
        XCTAssertEqual(try entry("127.0.0.2")?.hits, 1)
    }
}
