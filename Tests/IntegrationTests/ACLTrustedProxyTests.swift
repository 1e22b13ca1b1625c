import ControlProtocol
import Foundation
import XCTest

/// `acl.trusted_proxies`: a request from a trusted peer is judged by the address it forwards in
/// `X-Forwarded-For`; from any other peer the header is ignored.
final class ACLTrustedProxyTests: ACLDaemonTestCase {
    static func forwarded(_ ip: String) -> String { "X-Forwarded-For: \(ip)\r\n" }

    func testForwardedAddressIsJudgedOnlyFromATrustedPeer() throws {
        try startACLDaemon(acl: #""trusted_proxies": ["127.0.0.1"]"#)
        try add("deny", "127.0.0.9")
        XCTAssertEqual(try status(from: "127.0.0.1", headers: Self.forwarded("127.0.0.9")), 403)
        XCTAssertEqual(try status(from: "127.0.0.1", headers: Self.forwarded("127.0.0.8")), 200)
        XCTAssertEqual(try status(from: "127.0.0.1"), 200, "no header: the proxy itself")
        XCTAssertEqual(try status(from: "127.0.0.3", headers: Self.forwarded("127.0.0.9")), 200, "untrusted peer: header ignored")
        XCTAssertEqual(try entry("127.0.0.9")?.hits, 1)

        try add("deny", "127.0.0.3")
        XCTAssertEqual(try status(from: "127.0.0.3", headers: Self.forwarded("127.0.0.8")), 403, "judged as itself")
    }

    func testConfigDenyOfAForwardedAddress() throws {
        try startACLDaemon(acl: #""trusted_proxies": ["127.0.0.1"], "deny": ["127.0.0.9"]"#)
        XCTAssertEqual(try status(from: "127.0.0.1", headers: Self.forwarded("127.0.0.9")), 403)
        XCTAssertEqual(try status(from: "127.0.0.1", headers: Self.forwarded("127.0.0.7, 127.0.0.9")), 403, "the rightmost hop")
        XCTAssertEqual(try status(from: "127.0.0.1", headers: Self.forwarded("127.0.0.9, 127.0.0.7")), 200)
    }

    func testOneProxyConnectionCarriesManyClients() throws {
        try startACLDaemon(acl: #""trusted_proxies": ["127.0.0.1"]"#)
        try add("deny", "127.0.0.9")
        let proxy = try connect(from: "127.0.0.1")
        for (ip, expected) in [("127.0.0.8", 200), ("127.0.0.9", 403), ("127.0.0.8", 200), ("127.0.0.9", 403)] {
            try proxy.send(Self.get(keepAlive: true, extraHeaders: Self.forwarded(ip)))
            XCTAssertEqual(try proxy.readResponse().status, expected, ip)
        }
    }

    /// Under `deny_action: "close"` a trusted proxy's shared connection is neither closed at
    /// accept nor for a denied client it forwards (nginx would mark the backend down): that
    /// client gets a 403 and the connection goes on.
    func testTrustedPeerIsNotClosedForADeniedClientItGetsA403() throws {
        try startACLDaemon(acl: #""trusted_proxies": ["127.0.0.1"], "deny_action": "close""#)
        try add("deny", "127.0.0.0/24")
        try add("allow", "127.0.0.8")
        let proxy = try connect(from: "127.0.0.1")
        try proxy.send(Self.get(keepAlive: true, extraHeaders: Self.forwarded("127.0.0.8")))
        XCTAssertEqual(try proxy.readResponse().status, 200, "a denied proxy address is judged per request")
        try proxy.send(Self.get(keepAlive: true, extraHeaders: Self.forwarded("127.0.0.9")))
        XCTAssertEqual(try proxy.readResponse().status, 403, "an answer, not a silent close")
        try proxy.send(Self.get(keepAlive: true, extraHeaders: Self.forwarded("127.0.0.8")))
        XCTAssertEqual(try proxy.readResponse().status, 200, "the same connection serves the next client")
        XCTAssertEqual(try status(from: "127.0.0.1", headers: Self.forwarded("127.0.0.8")), 200, "and a new one")
        XCTAssertEqual(try status(from: "127.0.0.1"), 403, "the proxy's own request, denied: answered too")

        let direct = try connect(from: "127.0.0.9")
        let seen = direct.readUntilClosed()
        XCTAssertTrue(seen.closed, "a denied direct peer is still closed at accept")
        XCTAssertEqual(seen.bytes, [])
    }

    func testRouteListsSeeTheForwardedAddress() throws {
        try startACLDaemon(acl: #""trusted_proxies": ["127.0.0.1"]"#, routes: """
            { "req_path": "/", "type": "file_serve", "dir_path": "public", "ip_whitelist": ["127.0.0.7"] }
            """)
        XCTAssertEqual(try status(from: "127.0.0.1", headers: Self.forwarded("127.0.0.7")), 200)
        XCTAssertEqual(try status(from: "127.0.0.1"), 403)
        XCTAssertEqual(try status(from: "127.0.0.2", headers: Self.forwarded("127.0.0.7")), 403)
    }
}
