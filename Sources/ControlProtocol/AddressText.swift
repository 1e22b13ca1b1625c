#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IP addresses and prefixes as text, parsed one way for both binaries: the daemon builds its
/// `IPAddress` and `CIDR` from these, and expctl refuses a typo before asking the daemon.
public enum AddressText {
    /// Strict dotted-quad IPv4 (held IPv4-mapped, `::ffff:a.b.c.d`) or any textual IPv6, as
    /// 128 bits; nil for anything else.
    public static func address(_ text: Substring) -> (high: UInt64, low: UInt64)? {
        if text.contains(":") {
            var storage = in6_addr()
            let ok = String(text).withCString { inet_pton(AF_INET6, $0, &storage) } == 1
            guard ok else { return nil }
            let bytes = withUnsafeBytes(of: &storage) { Array($0) }
            var hi: UInt64 = 0
            var lo: UInt64 = 0
            for i in 0..<8 { hi = hi << 8 | UInt64(bytes[i]) }
            for i in 8..<16 { lo = lo << 8 | UInt64(bytes[i]) }
            return (hi, lo)
        }
        // Strict dotted quad: four decimal parts 0-255, no leading '+', no empty parts, no
        // leading zeros (`010` is 8 to inet_aton and curl, 10 to others: refused, as Python and
        // Go refuse it, rather than read either way).
        var value: UInt32 = 0
        var parts = 0
        var current: UInt32 = 0
        var digits = 0
        for ch in text.utf8 {
            if ch == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | current
                parts += 1
                current = 0
                digits = 0
            } else if ch >= 48 && ch <= 57 {
                guard digits < 3, digits == 0 || current != 0 else { return nil }
                current = current * 10 + UInt32(ch - 48)
                digits += 1
                guard current <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        return (0, 0x0000_FFFF_0000_0000 | UInt64(value << 8 | current))
    }

    /// `addr` or `addr/len`: the address and the prefix length in the 128-bit space (an IPv4
    /// `/n` is `/(96 + n)`; a bare address is a /128). Nil for anything malformed or a length out
    /// of range (IPv4 0-32, IPv6 0-128, at most three digits).
    public static func prefix(_ text: Substring) -> (high: UInt64, low: UInt64, bits: Int)? {
        guard let slash = text.firstIndex(of: "/") else {
            return address(text).map { ($0.high, $0.low, 128) }
        }
        guard let addr = address(text[..<slash]) else { return nil }
        let lenText = text[text.index(after: slash)...]
        guard !lenText.isEmpty, lenText.count <= 3, lenText.allSatisfy({ $0.isASCII && $0.isNumber }),
            lenText.count == 1 || lenText.first != "0", let len = Int(lenText)  // (no leading zeros: `/08`)
        else { return nil }
        if text[..<slash].contains(":") {
            return len <= 128 ? (addr.high, addr.low, len) : nil
        }
        return len <= 32 ? (addr.high, addr.low, 96 + len) : nil
    }
}
