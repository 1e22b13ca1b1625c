import ControlProtocol

/// An address prefix: `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128).
///
/// IPv4 prefixes live in the IPv4-mapped part of the 128-bit space, so an IPv4 `/n` is stored as
/// `/(96 + n)`; `prefixLength` always reports the prefix as the operator wrote it.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public let network: IPAddress
    /// Prefix length in the 128-bit space.
    public let bits: Int

    public var isIPv4: Bool { network.isIPv4 && bits >= 96 }
    /// The prefix length as written (0-32 for IPv4, 0-128 for IPv6).
    public var prefixLength: Int { isIPv4 ? bits - 96 : bits }

    public init(address: IPAddress, bits: Int) {
        precondition(bits >= 0 && bits <= 128)
        self.bits = bits
        let (mh, ml) = CIDR.mask(bits)
        self.network = IPAddress(high: address.high & mh, low: address.low & ml)
    }

    /// Parses `addr` or `addr/len` (`AddressText`, which expctl shares). Returns nil for
    /// anything malformed or a length out of range.
    public init?(_ text: String) {
        guard let (high, low, bits) = AddressText.prefix(Substring(text)) else { return nil }
        self.init(address: IPAddress(high: high, low: low), bits: bits)
    }

    /// The widest prefixes an operator may add without `force`: /8 (IPv4) and /32 (IPv6).
    public static let forceIPv4Limit = 8, forceIPv6Limit = 32

    /// Why adding this prefix needs `force` (it covers too much), or nil: the one place that
    /// decides. IPv4 clients are matched as IPv4-mapped addresses (`::ffff:0:0/96`), so an IPv6
    /// prefix is judged in both spaces: shorter than /32, or, where it overlaps the mapped range,
    /// covering a wider IPv4 range than a /8 (`::/80` and `::ffff:0:0/96` cover every IPv4
    /// client; `::ffff:10.0.0.0/104` is 10.0.0.0/8 and passes).
    public var forceReason: String? {
        if isIPv4 {
            guard prefixLength < Self.forceIPv4Limit else { return nil }
            return "\(self) covers more than a /\(Self.forceIPv4Limit)"
        }
        if bits < Self.forceIPv6Limit { return "\(self) covers more than a /\(Self.forceIPv6Limit)" }
        // Not IPv4 with bits >= 96, so it overlaps the mapped range only by containing all of it.
        if bits <= 96 && contains(IPAddress(high: 0, low: 0x0000_FFFF_0000_0000)) {
            return "\(self) covers every IPv4 address (::ffff:0:0/96, wider than a /\(Self.forceIPv4Limit))"
        }
        return nil
    }

    public func contains(_ address: IPAddress) -> Bool {
        let (mh, ml) = CIDR.mask(bits)
        return address.high & mh == network.high && address.low & ml == network.low
    }

    public var description: String {
        if isIPv4 {
            return bits == 128 ? network.description : "\(network)/\(bits - 96)"
        }
        return bits == 128 ? network.description : "\(network)/\(bits)"
    }

    static func mask(_ bits: Int) -> (UInt64, UInt64) {
        let high: UInt64 = bits >= 64 ? ~0 : (bits == 0 ? 0 : ~0 << UInt64(64 - bits))
        let low: UInt64 = bits <= 64 ? 0 : (bits == 128 ? ~0 : ~0 << UInt64(128 - bits))
        return (high, low)
    }
}
