import ControlProtocol
import Foundation
import XCTest

/// `acl.auto_ban`: a client over the 4xx (or request) limit in a window gets a deny entry
/// (source `auto`, reason `auto: ...`) for `ban_ms`, is refused meanwhile and let in after; an
/// address with an explicit allow entry is never banned.
final class ACLAutoBanTests: ACLDaemonTestCase {
    static let fourxx = #""auto_ban": { "window_ms": 60000, "max_4xx": 3, "ban_ms": 1000 }"#

    func autoEntry(_ cidr: String) throws -> ACLEntryInfo? {
        try entries().first { $0.cidr == cidr && $0.source == "auto" }
    }

    func testRepeated404sBanTheClientUntilTheBanExpires() throws {
        try startACLDaemon(acl: Self.fourxx)
        for _ in 0..<3 { XCTAssertEqual(try status(from: "127.0.0.2", "/missing"), 404) }
        XCTAssertNil(try autoEntry("127.0.0.2"), "three 4xx are within the limit")
        XCTAssertEqual(try status(from: "127.0.0.2", "/missing"), 404)

        var ban: ACLEntryInfo?
        XCTAssertTrue(try pollUntil(timeout: 5) {
            ban = try autoEntry("127.0.0.2")
            return ban != nil
        }, "the fourth 4xx bans")
        let entry = try XCTUnwrap(ban)
        XCTAssertEqual(entry.action, "deny")
        XCTAssertTrue(entry.reason?.hasPrefix("auto:") ?? false, entry.reason ?? "no reason")
        let expiresAt = try XCTUnwrap(entry.expiresAt)
        XCTAssertEqual(expiresAt - (entry.createdAt ?? 0), 1, accuracy: 0.01)

        if let refused = try status(from: "127.0.0.2", answeredBefore: expiresAt) { XCTAssertEqual(refused, 403, "refused while banned") }
        XCTAssertEqual(try status(from: "127.0.0.1"), 200)
        XCTAssertTrue(try pollUntil(timeout: 10) { try status(from: "127.0.0.2") == 200 }, "let in after the ban")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince1970, expiresAt, "let in only once it ran out")
        XCTAssertNil(try autoEntry("127.0.0.2"), "gone from the list once expired")

        let record = try XCTUnwrap(try audit().last)
        XCTAssertEqual(record.action, "acl deny")
        XCTAssertEqual(record.arguments, "127.0.0.2")
        XCTAssertEqual(record.reason, entry.reason)
        XCTAssertNil(record.uid, "no control-socket caller")
    }

    /// A client pipelining requests is refused from the request after the one that crossed the
    /// limit, not only once its ban has been stored and put in the table.
    func testABanAppliesFromTheNextRequest() throws {
        try startACLDaemon(acl: Self.fourxx)
        let client = try RawClient(port: port, source: "127.0.0.3", timeout: 10)
        try client.send(String(repeating: "GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n", count: 200))
        var statuses: [Int] = []
        while statuses.last != 403, statuses.count < 200, let r = try? client.readResponse() { statuses.append(r.status) }
        XCTAssertEqual(statuses, [404, 404, 404, 404, 403], "four 404s (the fourth crosses max_4xx 3), then refused")
    }

    func testAnExplicitlyAllowedAddressIsNeverBanned() throws {
        try startACLDaemon(acl: Self.fourxx)
        try add("allow", "127.0.0.3", reason: "monitoring")
        for _ in 0..<8 { XCTAssertEqual(try status(from: "127.0.0.3", "/missing"), 404) }
        // 127.0.0.2's ban is made the same way; once it is listed, a ban of .3 would have been too.
        for _ in 0..<4 { XCTAssertEqual(try status(from: "127.0.0.2", "/missing"), 404) }
        XCTAssertTrue(try pollUntil(timeout: 5) { try autoEntry("127.0.0.2") != nil })
        XCTAssertNil(try autoEntry("127.0.0.3"))
        XCTAssertEqual(try entry("127.0.0.3")?.action, "allow")
        XCTAssertEqual(try status(from: "127.0.0.3"), 200)
    }

    func testTooManyRequestsBan() throws {
        try startACLDaemon(acl: #""auto_ban": { "window_ms": 60000, "max_requests": 5, "ban_ms": 60000 }"#)
        for _ in 0..<6 { XCTAssertEqual(try status(from: "127.0.0.2"), 200) }
        XCTAssertTrue(try pollUntil(timeout: 5) { try status(from: "127.0.0.2") == 403 })
        let entry = try XCTUnwrap(try autoEntry("127.0.0.2"))
        XCTAssertTrue(entry.reason?.contains("more than 5 requests") ?? false, entry.reason ?? "")
        XCTAssertEqual(try status(from: "127.0.0.1"), 200)
        XCTAssertEqual(try remove("127.0.0.2", reason: "unban").status, 200, "an operator can lift a ban")
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
    }

    /// Bans 127.0.0.5 (four 404s) and waits for its entry: auto-ban's earlier decisions have
    /// been acted on by then.
    func banAnotherClient() throws {
        for _ in 0..<4 { XCTAssertEqual(try status(from: "127.0.0.5", "/missing"), 404) }
        XCTAssertTrue(try pollUntil(timeout: 5) { try autoEntry("127.0.0.5") != nil })
    }

    func testAnOperatorsPermanentDenyIsNeverReplacedByATemporaryBan() throws {
        try startACLDaemon(acl: Self.fourxx)
        try add("deny", "127.0.0.2", reason: "abuse")
        for _ in 0..<8 { XCTAssertEqual(try status(from: "127.0.0.2", "/missing"), 403) }
        try banAnotherClient()
        let entry = try XCTUnwrap(try self.entry("127.0.0.2"))
        XCTAssertEqual(entry.source, "manual")
        XCTAssertNil(entry.expiresAt, "still permanent")
        XCTAssertEqual(entry.reason, "abuse")
        // Once the other ban (ban_ms 1000) has run out, one over 127.0.0.2 would have too.
        XCTAssertTrue(try pollUntil(timeout: 10) { try status(from: "127.0.0.5") == 200 })
        XCTAssertEqual(try status(from: "127.0.0.2"), 403, "still denied")
        XCTAssertFalse(try audit().contains { $0.arguments == "127.0.0.2" && $0.reason?.hasPrefix("auto:") == true })
    }

    func testAClientDeniedByAWiderPrefixGetsNoEntryOfItsOwn() throws {
        try startACLDaemon(acl: #""deny": ["127.0.0.0/30"], "# + Self.fourxx)
        for _ in 0..<8 { XCTAssertEqual(try status(from: "127.0.0.2", "/missing"), 403) }
        try banAnotherClient()
        XCTAssertNil(try autoEntry("127.0.0.2"))
        XCTAssertEqual(try entries().map(\.cidr).sorted(), ["127.0.0.0/30", "127.0.0.5"])
    }

    func testRefusalsDoNotCountTowardsABanOnceADenyRunsOut() throws {
        try startACLDaemon(acl: #""auto_ban": { "window_ms": 60000, "max_requests": 5, "ban_ms": 60000 }"#)
        let deny = try add("deny", "127.0.0.2", ttl: 1)
        for _ in 0..<6 { _ = try status(from: "127.0.0.2", answeredBefore: deny.entry.expiresAt ?? 0) }
        // Let in again: its earlier refusals were not its requests to count.
        XCTAssertTrue(try pollUntil(timeout: 10) { try status(from: "127.0.0.2") == 200 })
        for _ in 0..<6 { _ = try status(from: "127.0.0.5") }
        XCTAssertTrue(try pollUntil(timeout: 5) { try autoEntry("127.0.0.5") != nil })
        XCTAssertNil(try autoEntry("127.0.0.2"))
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
    }

    /// 413s (and a bad body's 400s) answer the forwarded client, not the trusted proxy; the proxy
    /// itself is never banned, even for its own malformed requests.
    func testTooLargeBodiesBehindATrustedProxyCountForTheForwardedClient() throws {
        try startACLDaemon(
            acl: #""trusted_proxies": ["127.0.0.5"], "# + Self.fourxx,
            routes: #"{ "req_path": "/", "type": "file_serve", "dir_path": "public", "max_body_bytes": 10 }"#)
        let body = String(repeating: "x", count: 20)
        let head = "POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Forwarded-For: 1.2.3.4\r\n"
        for request in [
            head + "Content-Length: 20\r\n\r\n" + body, head + "Content-Length: 20\r\n\r\n" + body,
            head + "Transfer-Encoding: chunked\r\n\r\n14\r\n" + body + "\r\n0\r\n\r\n",
            head + "Transfer-Encoding: chunked\r\n\r\n14\r\n" + body + "\r\n0\r\n\r\n",
        ] {
            let proxy = try connect(from: "127.0.0.5")
            try proxy.send(request)
            XCTAssertEqual(try proxy.readResponse().status, 413)
        }
        XCTAssertTrue(try pollUntil(timeout: 5) { try autoEntry("1.2.3.4") != nil }, "the forwarded client is the one banned")
        XCTAssertNil(try autoEntry("127.0.0.5"))

        for _ in 0..<4 {
            let proxy = try connect(from: "127.0.0.5")
            try proxy.send("GET / HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n")
            XCTAssertEqual(try proxy.readResponse().status, 400)
        }
        for _ in 0..<4 { XCTAssertEqual(try status(from: "127.0.0.6", "/missing"), 404) }
        XCTAssertTrue(try pollUntil(timeout: 5) { try autoEntry("127.0.0.6") != nil })
        XCTAssertNil(try autoEntry("127.0.0.5"), "a trusted proxy is never banned")
        XCTAssertEqual(try status(from: "127.0.0.5", headers: "X-Forwarded-For: 5.6.7.8\r\n"), 200)
    }
}
