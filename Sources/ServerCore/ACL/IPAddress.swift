#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address held as 128 bits. IPv4 addresses are stored IPv4-mapped
/// (`::ffff:a.b.c.d`), so `::ffff:1.2.3.4` and `1.2.3.4` are the same value and compare equal:
/// that is how a dual-stack socket's peer is matched against IPv4 lists.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its 32-bit value (`a << 24 | b << 16 | c << 8 | d`).
    public init(ipv4 value: UInt32) {
        self.high = 0
        self.low = 0x0000_FFFF_0000_0000 | UInt64(value)
    }

    public var isIPv4: Bool { high == 0 && (low >> 32) == 0xFFFF }

    /// The 32-bit IPv4 value, when this is an IPv4 (or IPv4-mapped) address.
    public var ipv4Value: UInt32? { isIPv4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// Parses dotted-quad IPv4 or any textual IPv6 form (`::1`, `::ffff:1.2.3.4`, `2001:db8::/..` without the prefix).
    public init?(_ text: Substring) {
        if text.contains(":") {
            var storage = in6_addr()
            let ok = String(text).withCString { inet_pton(AF_INET6, $0, &storage) } == 1
            guard ok else { return nil }
            let bytes = withUnsafeBytes(of: &storage) { Array($0) }
            var hi: UInt64 = 0
            var lo: UInt64 = 0
            for i in 0..<8 { hi = hi << 8 | UInt64(bytes[i]) }
            for i in 8..<16 { lo = lo << 8 | UInt64(bytes[i]) }
            self.init(high: hi, low: lo)
        } else {
            // Strict dotted quad: four decimal parts 0-255, no leading '+', no empty parts.
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
                    guard digits < 3 else { return nil }
                    current = current * 10 + UInt32(ch - 48)
                    digits += 1
                    guard current <= 255 else { return nil }
                } else {
                    return nil
                }
            }
            guard digits > 0, parts == 3 else { return nil }
            self.init(ipv4: value << 8 | current)
        }
    }

    public init?(_ text: String) { self.init(Substring(text)) }

    public var description: String {
        if let v4 = ipv4Value {
            return "\(v4 >> 24).\((v4 >> 16) & 0xFF).\((v4 >> 8) & 0xFF).\(v4 & 0xFF)"
        }
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { raw in
            for i in 0..<8 { raw[i] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(i))) }
            for i in 0..<8 { raw[8 + i] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(i))) }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(AF_INET6, &storage, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
