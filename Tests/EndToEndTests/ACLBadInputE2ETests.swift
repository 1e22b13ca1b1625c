import ControlProtocol
import Foundation
import XCTest

/// Bad `expctl acl` input (and bad `audit`, `stats`, `upstream drain` arguments): one line on
/// stderr, a non-zero exit (1: the daemon refused; 64: bad usage), nothing on stdout, and nothing
/// stored (the list is unchanged; the audit log gains only what the daemon refused, as failures).
final class ACLBadInputE2ETests: E2ETestCase {
    func testBadInputIsRefusedWithOneLineAndStoresNothing() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        XCTAssertEqual(try expctl(["acl", "deny", "127.0.0.9", "--reason", "baseline"]).status, 0)
        let list = try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries
        let audit = try expctlJSON(AuditResponse.self, ["audit"]).entries

        let cases: [(args: [String], status: Int32, message: String)] = [
            (["acl", "deny", "127.0.0.256"], 64, "\"127.0.0.256\" is not a valid IP address or CIDR"),
            (["acl", "allow", "not-an-ip"], 64, "\"not-an-ip\" is not a valid IP address or CIDR"),
            (["acl", "deny", "10.0.0.0/33"], 64, "\"10.0.0.0/33\" is not a valid IP address or CIDR"),
            (["acl", "remove", "2001:db8::/129"], 64, "\"2001:db8::/129\" is not a valid IP address or CIDR"),
            (["acl", "deny", "127.0.0.2", "--ttl=-5m"], 64, "--ttl -5m is not a positive duration"),
            (["acl", "deny", "127.0.0.2", "--ttl", "-5m"], 64, "--ttl -5m is not a positive duration"),
            (["acl", "deny", "127.0.0.2", "--ttl", "0s"], 64, "--ttl 0s is not a positive duration"),
            (["acl", "deny", "127.0.0.2", "--ttl", "5x"], 64, "--ttl 5x is not a positive duration"),
            (["acl", "deny", "127.0.0.2", "--ttl", "1e300s"], 64, "--ttl 1e300s is longer than 100 years"),
            (["acl", "deny", "127.0.0.2", "--ttl", "36526d"], 64, "--ttl 36526d is longer than 100 years"),
            (["acl", "remove", "127.0.0.77"], 1, "no dynamic entry for 127.0.0.77"),
            (["acl", "deny", "64.0.0.0/4"], 1, "64.0.0.0/4 covers more than a /8; repeat with --force"),
            (["acl", "allow", "2001:db8::/31"], 1, "2001:db8::/31 covers more than a /32; repeat with --force"),
            (["acl", "check", "127.0.0.300"], 64, "\"127.0.0.300\" is not an IPv4 or IPv6 address"),
            (["acl", "check", "10.0.0.0/8"], 64, "\"10.0.0.0/8\" is not an IPv4 or IPv6 address"),
            (["audit", "--limit", "abc"], 64, "--limit must be a whole number between 1 and 100000, got \"abc\""),
            (["audit", "--limit", "-5"], 64, "--limit must be a whole number between 1 and 100000, got \"-5\""),
            (["audit", "--since", "-5m"], 64, "--since -5m is not a duration"),
            (["stats", "--since", "-5m"], 64, "--since -5m is not a duration"),
            (["upstream", "drain", "127.0.0.1:1", "--wait", "--timeout", "-5m"], 64, "--timeout -5m is not a positive duration"),
            // The argument parser's own errors: one line too, not its usage text.
            (["acl", "deny", "127.0.0.2", "--bogus"], 64, "Unknown option '--bogus'"),
            (["acl", "deny"], 64, "Missing expected argument '<target>'"),
        ]
        for c in cases {
            let r = try expctl(c.args)
            XCTAssertEqual(r.status, c.status, "\(c.args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(c.args)")
            XCTAssertTrue(r.stderr.hasPrefix("expctl: ") && r.stderr.contains(c.message), "\(c.args): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n", omittingEmptySubsequences: false).count, 2,
                           "one line and its newline: \(r.stderr)")
        }
        XCTAssertEqual(try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries.map(\.cidr), list.map(\.cidr))
        let after = try expctlJSON(AuditResponse.self, ["audit"]).entries
        XCTAssertEqual(Array(after.prefix(audit.count)), audit)
        XCTAssertEqual(after.dropFirst(audit.count).map { "\($0.action) \($0.arguments): \($0.result)" }, [
            "acl remove 127.0.0.77: error: not_found", "acl deny 64.0.0.0/4: error: bad_request",
            "acl allow 2001:db8::/31: error: bad_request",
        ], "the daemon's refusals are audited, expctl's never reached it")
        XCTAssertEqual(try httpStatus(port: port, source: "127.0.0.2"), 200)

        // A window longer than the epoch is everything (it trapped computing the start).
        for args in [["audit", "--since", "1e300s"], ["audit", "--since", "1e12s"], ["stats", "--since", "1e300s"],
                     ["stats", "--since", "1e12s"]] {
            let r = try expctl(args + ["--json"])
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr, "", "\(args)")
        }
        XCTAssertEqual(try expctlJSON(AuditResponse.self, ["audit", "--since", "1e300s"]).entries, after)

        let forced = try expctl(["acl", "deny", "64.0.0.0/4", "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(forced.stdout, "added: deny 64.0.0.0/4\n")
    }

    /// A reason is one line of text: a newline (which forged a row in `acl list` and `audit`) or a
    /// control sequence (which reached the operator's terminal) is refused, and nothing stored.
    /// Text from the daemon is printed with its control characters escaped, on one line.
    func testReasonsWithControlCharactersAreRefused() throws {
        try startDaemon(ports: [freePort()])
        for reason in ["two\nlines", "\u{1B}[2Jcleared", "tab\there", String(repeating: "x", count: 1001),
                       "line\u{2028}separator", "para\u{2029}graph", "\u{202E}desrever", "iso\u{2066}late\u{2069}"] {
            let r = try expctl(["acl", "deny", "127.0.0.2", "--reason", reason])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("reason must be one line of at most 1000 characters"), r.stderr)
        }
        XCTAssertEqual(try expctl(["acl", "deny", "127.0.0.2", "--reason", "ok: one line, ünïcode"]).status, 0)
        XCTAssertEqual(try expctlJSON(ACLListResponse.self, ["acl", "list"]).entries.map(\.reason), ["ok: one line, ünïcode"])
        let unknown = try expctl(["upstream", "weight", "no\nsuch\u{1B}[2J", "3"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertEqual(unknown.stderr.filter { $0 == "\n" }.count, 1, unknown.stderr)
        XCTAssertFalse(unknown.stderr.contains("\u{1B}"), unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("no\\nsuch\\u{1B}[2J"), unknown.stderr)
    }

    func testNoDaemonIsExitStatus3() throws {
        let r = try expctl(["acl", "deny", "127.0.0.2"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("expctl: expserverd is not running"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
    }

    /// A typo is bad usage whether a daemon runs or not (it said "not running" here).
    func testBadAddressIsUsageWithoutADaemon() throws {
        let r = try expctl(["acl", "deny", "1.2.3"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertEqual(r.stderr, "expctl: \"1.2.3\" is not a valid IP address or CIDR\n")
    }

    /// A command group without its subcommand is bad usage (one line naming them, 64), not help
    /// with status 0, which a script would take for success.
    func testAGroupWithoutItsSubcommandIsUsage() throws {
        for (args, path) in [([String](), "expctl"), (["acl"], "expctl acl"), (["upstream"], "expctl upstream")] {
            let r = try expctl(args, socket: nil)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(args)")
            XCTAssertTrue(r.stderr.hasPrefix("expctl: \(path) needs a subcommand: "), r.stderr)
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        }
        XCTAssertTrue(try expctl(["acl"], socket: nil).stderr.contains("deny, allow, remove, list, check"))
        XCTAssertEqual(try expctl(["--help"], socket: nil).status, 0, "asking for help is not an error")
    }
}
