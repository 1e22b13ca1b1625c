#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ControlProtocol

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

    /// Parses dotted-quad IPv4 or any textual IPv6 (`AddressText`, which expctl shares).
    public init?(_ text: Substring) {
        guard let (high, low) = AddressText.address(text) else { return nil }
        self.init(high: high, low: low)
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
