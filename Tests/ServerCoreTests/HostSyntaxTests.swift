import XCTest

@testable import ServerCore

/// `Host` values (RFC 9112 §3.2, RFC 3986 §3.2.2): a name or bracketed IPv6 literal, then an
/// optional `:digits`.
final class HostSyntaxTests: XCTestCase {
    func valid(_ value: String) -> Bool {
        var v = value
        return v.withUTF8 { HostSyntax.isValid(UnsafeRawBufferPointer($0)) }
    }

    func testNamesAddressesAndPorts() {
        for host in [
            "", "localhost", "localhost:8001", "LOCALHOST:8001", "127.0.0.1", "127.0.0.1:80", "a.b-c_d~e", "xn--bcher-kva.example",
            "[::1]", "[::1]:8080", "[2001:db8::ffff:192.0.2.1]", "host:", "a%41b", "a,b", "sub.example.com.", "!$&'()*+;=",
        ] {
            XCTAssertTrue(valid(host), host)
        }
    }

    func testWhatIsNotAHost() {
        for host in [
            "a b", " a", "a\t", "a/../b", "a/b", "a\\b", "good.test:80@evil.com", "user@host", "a?b", "a#b", "a\u{0}b", "a\u{7F}",
            "a\u{1}b", "é.example", "h:8o", "h:-1", "h:80:80", "[::1", "[]", "[::g]", "[::1]x", "[::1]:8a", "::1", "a..b", "..",
            "a%4", "a%zz", ":80",
        ] {
            XCTAssertFalse(valid(host), host.debugDescription)
        }
    }
}
