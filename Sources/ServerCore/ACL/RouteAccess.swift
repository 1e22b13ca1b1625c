/// A route's `ip_whitelist` / `ip_blacklist`, with eXpServer's semantics extended to CIDRs.
///
/// The one decision, `allows(_:)`:
/// - whitelist present (non-empty): the client must match the whitelist **and not** the blacklist
///   (an address in both lists is denied; eXpServer's "whitelist minus blacklist" rule, without
///   its quirk of allowing everyone when the difference is empty);
/// - otherwise: the client must not match the blacklist.
/// Empty lists behave as absent ones. IPv4-mapped IPv6 peers match IPv4 entries.
public struct RouteAccess: Sendable, Equatable {
    public let whitelist: [CIDR]
    public let blacklist: [CIDR]

    public init(whitelist: [CIDR], blacklist: [CIDR]) {
        self.whitelist = whitelist
        self.blacklist = blacklist
    }

    public var isUnrestricted: Bool { whitelist.isEmpty && blacklist.isEmpty }

    public func allows(_ client: IPAddress) -> Bool {
        if !whitelist.isEmpty && !whitelist.contains(where: { $0.contains(client) }) { return false }
        return !blacklist.contains(where: { $0.contains(client) })
    }
}
