import ControlProtocol
import Foundation
import XCTest

/// The global list and a route's `ip_whitelist`/`ip_blacklist` together: a global deny ends the
/// check; a global allow does not open a route the route's lists close.
final class ACLRouteListTests: ACLDaemonTestCase {
    func testGlobalListThenRouteLists() throws {
        try startACLDaemon(routes: """
            { "req_path": "/", "type": "file_serve", "dir_path": "public", "ip_whitelist": ["127.0.0.1", "127.0.0.2"] }
            """)
        XCTAssertEqual(try status(from: "127.0.0.1"), 200)
        XCTAssertEqual(try status(from: "127.0.0.3"), 403)

        try add("deny", "127.0.0.1")
        try add("allow", "127.0.0.3")
        XCTAssertEqual(try status(from: "127.0.0.1"), 403, "a global deny wins over the whitelist")
        XCTAssertEqual(try status(from: "127.0.0.3"), 403, "a global allow does not bypass the whitelist")
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
        XCTAssertEqual(try entry("127.0.0.3")?.hits, 1, "the allow entry still decided the global check")
    }

    func testGlobalDenyBeforeABlacklistedRoutesOwnAnswer() throws {
        try startACLDaemon(routes: """
            { "req_path": "/", "type": "file_serve", "dir_path": "public", "ip_blacklist": ["127.0.0.3"] },
            { "req_path": "/go", "type": "redirect", "redirect_url": "http://example.invalid/" }
            """)
        XCTAssertEqual(try status(from: "127.0.0.2", "/go"), 302)
        XCTAssertEqual(try status(from: "127.0.0.3", "/go"), 302, "the blacklist is the other route's")
        try add("deny", "127.0.0.2")
        XCTAssertEqual(try status(from: "127.0.0.2", "/go"), 403)
        XCTAssertEqual(try status(from: "127.0.0.2", "/nowhere/at/all"), 403)
        XCTAssertEqual(try status(from: "127.0.0.3", "/hello.txt"), 403)
        XCTAssertEqual(try status(from: "127.0.0.1", "/hello.txt"), 200)
    }
}
