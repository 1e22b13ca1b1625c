import ControlProtocol
import Foundation
import XCTest

/// Bad input to `/v1/acl` is refused with a one-line message and nothing is stored: the list is
/// unchanged and the audit log only gains the failure (`error: <code>`). Prefixes wider than /8
/// (IPv4) or /32 (IPv6) need `force`.
final class ACLBadInputTests: ACLDaemonTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try startACLDaemon()
        try add("deny", "127.0.0.9", reason: "baseline")
    }

    /// `r` was refused, changed nothing, and was audited as the failure it was.
    func assertRefused(_ r: HTTPResult, status: Int = 400, code: String = "bad_request", contains fragment: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        assertError(r, status: status, code: code, contains: fragment, file: file, line: line)
        XCTAssertEqual(try entries().map(\.cidr), ["127.0.0.9"], "nothing stored", file: file, line: line)
        let audit = try audit()
        XCTAssertEqual(audit.filter { $0.result == "ok" }.map(\.arguments), ["127.0.0.9"], "no change audited", file: file, line: line)
        XCTAssertEqual(audit.last?.result, "error: \(code)", "the failure is audited", file: file, line: line)
    }

    /// A failed change is audited with what was understood of it: action, arguments, reason,
    /// caller, and `error: <code>`.
    func testFailuresAreAudited() throws {
        try assertRefused(try put("deny", "not-an-ip", ttl: 60, reason: "typo"), contains: "not a valid IP address")
        try assertRefused(try remove("127.0.0.2", reason: "oops"), status: 404, code: "not_found", contains: "127.0.0.2")
        try assertRefused(try put("block", "127.0.0.2"), contains: "action must be")
        try assertRefused(try control("POST", Endpoint.acl, body: "{"), contains: "not valid JSON")
        let failures = try audit().dropFirst()
        XCTAssertEqual(failures.map(\.action), ["acl deny", "acl remove", "POST /v1/acl", "POST /v1/acl"])
        XCTAssertEqual(failures.map(\.arguments), ["not-an-ip ttl_seconds=60.0", "127.0.0.2", "127.0.0.2", ""])
        XCTAssertEqual(failures.map(\.reason), ["typo", "oops", nil, nil])
        XCTAssertEqual(failures.map(\.result), ["error: bad_request", "error: not_found", "error: bad_request", "error: bad_request"])
        XCTAssertTrue(failures.allSatisfy { $0.uid == Int64(getuid()) && $0.pid == Int64(getpid()) })
    }

    func testInvalidAddressesAreRefused() throws {
        for text in ["127.0.0.256", "not-an-ip", "127.0.0.1/33", "127.0.0.1/", "2001:db8::/129", ""] {
            try assertRefused(try put("deny", text), contains: "is not a valid IP address or CIDR")
        }
        assertError(try control("GET", Endpoint.aclCheck + "?ip=127.0.0.300"), status: 400, code: "bad_request", contains: "127.0.0.300")
    }

    /// Bits past the prefix length are refused, not dropped: `127.0.0.5/8` (a typo for /28?)
    /// would deny all of 127/8.
    func testHostBitsPastThePrefixAreRefused() throws {
        try assertRefused(try put("deny", "127.0.0.5/8"), contains: "\"127.0.0.5/8\" has bits set past its prefix length: the prefix is 127.0.0.0/8")
        try assertRefused(try put("deny", "2001:db8::1/64"), contains: "the prefix is 2001:db8::/64")
        XCTAssertEqual(try put("deny", "127.0.0.0/28").status, 200)
        XCTAssertEqual(try put("deny", "127.0.0.7").status, 200)
    }

    func testNonPositiveTTLIsRefused() throws {
        try assertRefused(try put("deny", "127.0.0.2", ttl: -300), contains: "ttl must be a positive duration")
        try assertRefused(try put("deny", "127.0.0.2", ttl: 0), contains: "ttl must be a positive duration")
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
    }

    /// A TTL past 100 years is refused naming `ttl_seconds` (1e19 and up trapped the daemon
    /// converting it to an Int); 100 years itself is accepted.
    func testOverlongTTLIsRefused() throws {
        for ttl in [1e19, 1e300, Double(Int.max), ACLPutRequest.maxTTLSeconds + 1] {
            try assertRefused(try put("deny", "127.0.0.2", ttl: ttl), contains: "ttl_seconds must be at most 3155760000 (100 years)")
        }
        XCTAssertEqual(try status(from: "127.0.0.2"), 200)
        let now = Date().timeIntervalSince1970
        let entry = try add("deny", "127.0.0.3", ttl: ACLPutRequest.maxTTLSeconds).entry
        XCTAssertEqual(try XCTUnwrap(entry.expiresAt), now + ACLPutRequest.maxTTLSeconds, accuracy: 60)
        XCTAssertEqual(try status(from: "127.0.0.3"), 403)
    }

    func testUnknownActionIsRefused() throws {
        try assertRefused(try put("block", "127.0.0.2"), contains: "action must be")
    }

    func testRemovingAnUnknownEntryIsRefused() throws {
        try assertRefused(try remove("127.0.0.2", reason: "oops"), status: 404, code: "not_found", contains: "127.0.0.2")
    }

    func testWidePrefixesNeedForce() throws {
        try assertRefused(try put("deny", "64.0.0.0/4"), contains: "--force")
        try assertRefused(try put("deny", "2001:db8::/31"), contains: "--force")
        try assertRefused(try put("deny", "0.0.0.0/0", force: false), contains: "--force")

        XCTAssertFalse(try add("deny", "64.0.0.0/4", force: true).replaced)
        try add("deny", "10.0.0.0/8")
        try add("deny", "2001:db8::/32")
        XCTAssertEqual(Set(try entries().map(\.cidr)), ["127.0.0.9", "64.0.0.0/4", "10.0.0.0/8", "2001:db8::/32"])
        XCTAssertEqual(try status(from: "127.0.0.1"), 200, "none of them covers loopback")
    }

    /// IPv4 clients are matched as ::ffff:a.b.c.d, so an IPv6 prefix that contains ::ffff:0:0/96
    /// denies every IPv4 client: it needs force however long it is written (`::/80` got in and
    /// then 127.0.0.1 got 403). A mapped prefix is judged as the IPv4 prefix it is.
    func testIPv6PrefixesCoveringIPv4NeedForce() throws {
        for cidr in ["::/80", "::/64", "::fffe:0:0/95", "::ffff:0:0/96", "::ffff:0.0.0.0/100", "::/32"] {
            try assertRefused(try put("deny", cidr), contains: "--force")
        }
        // (Written with bits past the length, these are refused for that first.)
        for cidr in ["::1/64", "::ffff:0:0/95"] { try assertRefused(try put("deny", cidr), contains: "has bits set past its prefix length") }
        XCTAssertEqual(try status(from: "127.0.0.1"), 200)
        try add("deny", "::ffff:10.0.0.0/104")  // 10.0.0.0/8
        try add("deny", "::/96")  // IPv4-compatible addresses, not mapped ones
        try add("deny", "::/95")  // ::0:0/96 and ::1:0:0/96, not ::ffff:0:0/96
        try add("deny", "2001:db8::/64")
        try add("deny", "64:ff9b::/96")
        XCTAssertEqual(try status(from: "127.0.0.1"), 200, "none of them covers loopback")
    }
}
