import Foundation
import NIOCore
import XCTest

@testable import ServerCore

/// IPAddress / CIDR parsing and matching, and the whitelist/blacklist decision.
final class IPAddressTests: XCTestCase {
    func testIPv4() {
        let a = IPAddress("127.0.0.1")
        XCTAssertNotNil(a)
        XCTAssertEqual(a?.ipv4Value, 0x7F00_0001)
        XCTAssertTrue(a?.isIPv4 ?? false)
        XCTAssertEqual(a?.description, "127.0.0.1")
        XCTAssertEqual(IPAddress("0.0.0.0")?.ipv4Value, 0)
        XCTAssertEqual(IPAddress("255.255.255.255")?.ipv4Value, 0xFFFF_FFFF)
        XCTAssertEqual(IPAddress(ipv4: 0x0A00_0001), IPAddress("10.0.0.1"))
    }

    func testIPv6() {
        let loopback = IPAddress("::1")
        XCTAssertEqual(loopback, IPAddress(high: 0, low: 1))
        XCTAssertFalse(loopback?.isIPv4 ?? true)
        XCTAssertNil(loopback?.ipv4Value)
        XCTAssertEqual(loopback?.description, "::1")
        XCTAssertEqual(IPAddress("2001:db8::1")?.description, "2001:db8::1")
        XCTAssertEqual(IPAddress("2001:DB8:0:0:0:0:0:1"), IPAddress("2001:db8::1"))
    }

    /// A connection's peer read from its socket address's bytes is the address its text names.
    func testFromSocketAddresses() throws {
        for text in ["127.0.0.1", "10.20.30.40", "255.255.255.254", "0.0.0.1"] {
            XCTAssertEqual(IPAddress(try SocketAddress(ipAddress: text, port: 80)), IPAddress(text), text)
        }
        for text in ["::1", "2001:db8::5", "fe80::1:2:3:4", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", "::ffff:10.0.0.1"] {
            XCTAssertEqual(IPAddress(try SocketAddress(ipAddress: text, port: 443)), IPAddress(text), text)
        }
        XCTAssertEqual(IPAddress(try SocketAddress(ipAddress: "::ffff:10.0.0.1", port: 1)), IPAddress("10.0.0.1"), "mapped is IPv4")
        XCTAssertNil(IPAddress(try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")))
    }

    func testIPv4MappedEqualsIPv4() {
        XCTAssertEqual(IPAddress("::ffff:127.0.0.1"), IPAddress("127.0.0.1"))
        XCTAssertEqual(IPAddress("::ffff:7f00:2"), IPAddress("127.0.0.2"))
        XCTAssertEqual(IPAddress("::ffff:1.2.3.4")?.description, "1.2.3.4")
        XCTAssertNotEqual(IPAddress("::127.0.0.1"), IPAddress("127.0.0.1"), "IPv4-compatible is not IPv4-mapped")
    }

    func testInvalidAddresses() {
        for text in [
            "", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-4", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ",
            " 1.2.3.4", "+1.2.3.4", "0001.2.3.4", "a.b.c.d", "localhost", ":::", "1::2::3", "::g", "12345::",
            "1.2.3.4/32",
            // Leading zeros: octal to inet_aton and curl, decimal to others; refused.
            "010.1.1.1", "10.01.1.1", "10.1.1.00", "00.0.0.0", "::ffff:010.1.1.1",
        ] {
            XCTAssertNil(IPAddress(text), text)
        }
        for text in ["0.0.0.0", "10.0.100.1", "100.200.0.9"] {
            XCTAssertEqual(IPAddress(text)?.description, text)
        }
    }
}

final class CIDRTests: XCTestCase {
    func cidr(_ text: String) -> CIDR { CIDR(text)! }
    func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    /// Too wide without force: IPv4 under /8, IPv6 under /32, and any IPv6 prefix whose IPv4 part
    /// (IPv4 clients are matched as ::ffff:a.b.c.d) is wider than a /8.
    func testForceReason() {
        for text in ["0.0.0.0/0", "64.0.0.0/7", "::/0", "2001:db8::/31", "::/32", "::/64", "::1/64", "::/80", "::fffe:0:0/95",
                     "::ffff:0:0/95", "::ffff:0:0/96", "::ffff:10.0.0.0/103"] {
            XCTAssertNotNil(cidr(text).forceReason, text)
        }
        for text in ["10.0.0.0/8", "127.0.0.1", "2001:db8::/32", "::/96", "::1", "::/95", "::ffff:10.0.0.0/104", "::ffff:1.2.3.4",
                     "64:ff9b::/96", "fe80::/64"] {
            XCTAssertNil(cidr(text).forceReason, text)
        }
        XCTAssertEqual(cidr("::/80").forceReason, "::/80 covers every IPv4 address (::ffff:0:0/96, wider than a /8)")
        XCTAssertEqual(cidr("64.0.0.0/4").forceReason, "64.0.0.0/4 covers more than a /8")
    }

    func testBareAddressesAreHostPrefixes() {
        XCTAssertEqual(CIDR("127.0.0.1")?.prefixLength, 32)
        XCTAssertEqual(CIDR("::1")?.prefixLength, 128)
        XCTAssertTrue(cidr("127.0.0.1").contains(ip("127.0.0.1")))
        XCTAssertFalse(cidr("127.0.0.1").contains(ip("127.0.0.2")))
        XCTAssertEqual(cidr("127.0.0.1").description, "127.0.0.1")
    }

    func testIPv4Prefixes() {
        let net = cidr("127.0.0.0/30")
        XCTAssertTrue(net.isIPv4)
        XCTAssertEqual(net.prefixLength, 30)
        XCTAssertEqual(net.description, "127.0.0.0/30")
        for host in ["127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"] { XCTAssertTrue(net.contains(ip(host)), host) }
        for host in ["127.0.0.4", "127.0.1.1", "126.0.0.1"] { XCTAssertFalse(net.contains(ip(host)), host) }
        XCTAssertEqual(cidr("10.1.2.3/8").network, ip("10.0.0.0"), "host bits are cleared")
        XCTAssertTrue(cidr("10.0.0.0/8").contains(ip("10.255.255.255")))
        XCTAssertTrue(cidr("1.2.3.4/32").contains(ip("1.2.3.4")))
        XCTAssertFalse(cidr("1.2.3.4/32").contains(ip("1.2.3.5")))
    }

    func testIPv4SlashZeroMatchesEveryIPv4ButNoIPv6() {
        let all = cidr("0.0.0.0/0")
        XCTAssertTrue(all.contains(ip("8.8.8.8")))
        XCTAssertTrue(all.contains(ip("255.255.255.255")))
        XCTAssertTrue(all.contains(ip("::ffff:1.2.3.4")))
        XCTAssertFalse(all.contains(ip("::1")))
        XCTAssertFalse(all.contains(ip("2001:db8::1")))
    }

    func testIPv6Prefixes() {
        let doc = cidr("2001:db8::/32")
        XCTAssertFalse(doc.isIPv4)
        XCTAssertEqual(doc.prefixLength, 32)
        XCTAssertTrue(doc.contains(ip("2001:db8:ffff::1")))
        XCTAssertFalse(doc.contains(ip("2001:db9::1")))
        XCTAssertTrue(cidr("::/0").contains(ip("2001:db8::1")))
        XCTAssertTrue(cidr("::/0").contains(ip("127.0.0.1")), "::/0 is everything, IPv4-mapped included")
        XCTAssertTrue(cidr("::1/128").contains(ip("::1")))
        XCTAssertFalse(cidr("::1/128").contains(ip("::2")))
        XCTAssertTrue(cidr("::ffff:127.0.0.0/104").contains(ip("127.9.9.9")), "a mapped prefix matches IPv4 peers")
        XCTAssertTrue(cidr("2001:db8::/64").contains(ip("2001:db8::ffff:ffff:ffff:ffff")))
        XCTAssertFalse(cidr("2001:db8::/64").contains(ip("2001:db8:0:1::")))
    }

    func testInvalidCIDRs() {
        for text in [
            "", "/", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/a",
            "10.0.0.0/0008", "::/129", "::1/1000", "300.0.0.0/8", "host/8", "10.0.0.0 /8", "10.0.0.0/08", "2001:db8::/032",
        ] {
            XCTAssertNil(CIDR(text), text)
        }
        XCTAssertEqual(CIDR("0.0.0.0/0")?.prefixLength, 0)
        XCTAssertEqual(CIDR("10.0.0.0/8")?.prefixLength, 8)
    }
}

final class RouteAccessTests: XCTestCase {
    func access(white: [String], black: [String]) -> RouteAccess {
        RouteAccess(whitelist: white.map { CIDR($0)! }, blacklist: black.map { CIDR($0)! })
    }

    func allows(_ a: RouteAccess, _ text: String) -> Bool { a.allows(IPAddress(text)!) }

    func testEmptyListsAllowEveryone() {
        let a = access(white: [], black: [])
        XCTAssertTrue(a.isUnrestricted)
        XCTAssertTrue(allows(a, "127.0.0.1"))
        XCTAssertTrue(allows(a, "::1"))
    }

    func testWhitelistOnly() {
        let a = access(white: ["127.0.0.1", "10.0.0.0/8"], black: [])
        XCTAssertFalse(a.isUnrestricted)
        XCTAssertTrue(allows(a, "127.0.0.1"))
        XCTAssertTrue(allows(a, "::ffff:127.0.0.1"))
        XCTAssertTrue(allows(a, "10.20.30.40"))
        XCTAssertFalse(allows(a, "127.0.0.2"))
        XCTAssertFalse(allows(a, "::1"))
    }

    func testBlacklistOnly() {
        let a = access(white: [], black: ["127.0.0.2", "192.168.0.0/16"])
        XCTAssertTrue(allows(a, "127.0.0.1"))
        XCTAssertFalse(allows(a, "127.0.0.2"))
        XCTAssertFalse(allows(a, "::ffff:127.0.0.2"))
        XCTAssertFalse(allows(a, "192.168.1.1"))
        XCTAssertTrue(allows(a, "::1"))
    }

    func testBothListsS3() {
        let a = access(white: ["127.0.0.1", "127.0.0.3"], black: ["127.0.0.3"])
        XCTAssertTrue(allows(a, "127.0.0.1"))
        XCTAssertFalse(allows(a, "127.0.0.3"), "in both lists: denied")
        XCTAssertFalse(allows(a, "127.0.0.2"), "in neither: denied")
    }

    func testEmptyDifferenceDeniesEveryone() {
        // eXpServer's quirk would allow everyone here; we deny.
        let a = access(white: ["127.0.0.1"], black: ["127.0.0.1"])
        XCTAssertFalse(allows(a, "127.0.0.1"))
        XCTAssertFalse(allows(a, "127.0.0.2"))
    }

    /// The lists are tries: with 50,000 entries each, decisions are a scan's, and lookups do not
    /// scan (the 2,000 timed here would be 2 * 10^8 prefix tests, seconds in a debug build).
    func testManyEntries() {
        var rng = SplitMix64(seed: 7)
        let black = (0..<50_000).map { _ in CIDR(address: IPAddress(ipv4: UInt32(truncatingIfNeeded: rng.next()) | 0x0100_0000), bits: 128) }
        let white = [CIDR("0.0.0.0/1")!, CIDR("2001:db8::/32")!] + (0..<49_998).map { i in CIDR(address: IPAddress(ipv4: 0xC000_0000 + UInt32(i)), bits: 128) }
        let a = RouteAccess(whitelist: white, blacklist: black)
        // (Decisions against a linear scan; no timing in a unit test.)
        let random = (0..<2000).map { _ in IPAddress(ipv4: UInt32(truncatingIfNeeded: rng.next())) }
        let probes: [IPAddress] = Array(random.prefix(100)) + black.prefix(50).map(\.network) + white.suffix(50).map(\.network)
            + [IPAddress("2001:db8::5")!, IPAddress("::1")!]
        for ip in probes {
            let scan = white.contains { $0.contains(ip) } && !black.contains { $0.contains(ip) }
            XCTAssertEqual(a.allows(ip), scan, "\(ip)")
        }
        XCTAssertFalse(black.prefix(50).contains { a.allows($0.network) }, "blacklisted")
        XCTAssertTrue(white.suffix(50).allSatisfy { a.allows($0.network) }, "whitelisted")
        XCTAssertTrue(a.allows(IPAddress("2001:db8::5")!))
        XCTAssertFalse(a.allows(IPAddress("::1")!))
    }

    func testBlacklistCarvesOutOfWhitelistPrefix() {
        let a = access(white: ["127.0.0.0/30"], black: ["127.0.0.2/32"])
        XCTAssertTrue(allows(a, "127.0.0.1"))
        XCTAssertTrue(allows(a, "127.0.0.3"))
        XCTAssertFalse(allows(a, "127.0.0.2"))
        XCTAssertFalse(allows(a, "127.0.0.4"))
    }
}
