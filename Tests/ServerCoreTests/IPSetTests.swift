import XCTest

@testable import ServerCore

/// The trie against a brute-force longest-prefix match, plus table-driven boundaries.
final class IPSetTests: XCTestCase {
    func c(_ s: String) -> CIDR { CIDR(s)! }
    func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    func testBoundaries() {
        let set = IPSet<String>([
            (c("0.0.0.0/0"), "v4-any"), (c("10.0.0.0/8"), "ten"), (c("10.1.0.0/16"), "ten-one"),
            (c("10.1.2.3"), "host"), (c("::/0"), "any"), (c("2001:db8::/32"), "doc"),
            (c("2001:db8::1"), "doc-host"),
        ])
        let table: [(String, String?)] = [
            ("10.1.2.3", "host"), ("10.1.2.4", "ten-one"), ("10.2.0.1", "ten"), ("11.0.0.1", "v4-any"),
            ("::ffff:10.1.2.3", "host"),  // IPv4-mapped IPv6 is IPv4
            ("2001:db8::1", "doc-host"), ("2001:db8::2", "doc"), ("2001:db9::1", "any"), ("::1", "any"),
        ]
        for (addr, want) in table {
            XCTAssertEqual(set.longestMatch(ip(addr)), want, addr)
        }
    }

    func testIPv4AnyDoesNotCoverIPv6() {
        let set = IPSet<Int>([(c("0.0.0.0/0"), 1)])
        XCTAssertEqual(set.longestMatch(ip("1.2.3.4")), 1)
        XCTAssertNil(set.longestMatch(ip("2001:db8::1")))
    }

    func testSlash32And128AreExact() {
        let set = IPSet<Int>([(c("192.0.2.1/32"), 1), (c("2001:db8::1/128"), 2)])
        XCTAssertEqual(set.longestMatch(ip("192.0.2.1")), 1)
        XCTAssertNil(set.longestMatch(ip("192.0.2.0")))
        XCTAssertEqual(set.longestMatch(ip("2001:db8::1")), 2)
        XCTAssertNil(set.longestMatch(ip("2001:db8::")))
    }

    func testReinsertReplacesValue() {
        var set = IPSet<String>([(c("10.0.0.0/8"), "a")])
        set.insert(c("10.0.0.0/8"), "b")
        XCTAssertEqual(set.count, 1)
        XCTAssertEqual(set.longestMatch(ip("10.9.9.9")), "b")
    }

    func testExpiryAndTombstone() {
        var set = IPSet<String>([(c("10.0.0.0/8"), "wide", nil), (c("10.1.0.0/16"), "narrow", 100.0)])
        XCTAssertEqual(set.longestMatch(ip("10.1.1.1"), now: 99), "narrow")
        XCTAssertEqual(set.longestMatch(ip("10.1.1.1"), now: 100), "wide", "an expired entry falls back to the wider one")
        set.tombstone(c("10.0.0.0/8"))
        XCTAssertNil(set.longestMatch(ip("10.2.2.2"), now: 0))
        XCTAssertEqual(set.longestMatch(ip("10.1.1.1"), now: 0), "narrow")
    }

    func testExactIndex() {
        let set = IPSet<Int>([(c("10.0.0.0/8"), 1), (c("10.0.0.0/16"), 2)])
        XCTAssertEqual(set.exact(c("10.0.0.0/8")), 1)
        XCTAssertEqual(set.exact(c("10.0.0.0/16")), 2)
        XCTAssertNil(set.exact(c("10.0.0.0/12")))
    }

    /// Random prefixes and probes: the trie must agree with a linear scan for the longest match.
    func testAgreesWithBruteForce() {
        var seed: UInt64 = 1
        func next() -> UInt64 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return seed
        }
        var cidrs: [CIDR] = []
        for i in 0..<2000 {
            let r = next()
            if i % 2 == 0 {
                // Cluster IPv4 prefixes in 10/8 so they overlap a lot.
                let a = 0x0A00_0000 | UInt32(truncatingIfNeeded: r >> 40) & 0x00FF_FFFF
                cidrs.append(CIDR(address: IPAddress(ipv4: a), bits: 96 + 8 + Int(r % 25)))
            } else {
                cidrs.append(CIDR(address: IPAddress(high: 0x2001_0db8_0000_0000 | (r >> 48), low: next()), bits: 32 + Int(r % 97)))
            }
        }
        let set = IPSet(cidrs.enumerated().map { ($0.element, $0.offset) })
        for _ in 0..<5000 {
            let r = next()
            let probe: IPAddress = r % 2 == 0
                ? IPAddress(ipv4: 0x0A00_0000 | UInt32(truncatingIfNeeded: next() >> 40) & 0x00FF_FFFF)
                : IPAddress(high: 0x2001_0db8_0000_0000 | (next() >> 48), low: next())
            // Later entries replace earlier ones on the same prefix, as in the trie.
            var best: (bits: Int, index: Int)? = nil
            for (i, cidr) in cidrs.enumerated() where cidr.contains(probe) {
                if best == nil || cidr.bits > best!.bits || cidr.bits == best!.bits { best = (cidr.bits, i) }
            }
            let want = best.map { b in cidrs.lastIndex(of: cidrs[b.index])! }
            XCTAssertEqual(set.longestMatch(probe), want, "\(probe)")
        }
    }
}
