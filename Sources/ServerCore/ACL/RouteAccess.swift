/// A route's `ip_whitelist` / `ip_blacklist`, with eXpServer's semantics extended to CIDRs.
///
/// The one decision, `allows(_:)`:
/// - whitelist present (non-empty): the client must match the whitelist **and not** the blacklist
///   (an address in both lists is denied; eXpServer's "whitelist minus blacklist" rule, without
///   its quirk of allowing everyone when the difference is empty);
/// - otherwise: the client must not match the blacklist.
/// Empty lists behave as absent ones. IPv4-mapped IPv6 peers match IPv4 entries.
///
/// The lists are compiled into prefix tries (`IPSet`) once, at config load, so a lookup costs
/// the same with 100,000 entries as with one.
public struct RouteAccess: Sendable, Equatable {
    public let whitelist: [CIDR]
    public let blacklist: [CIDR]
    private let white: IPSet<Bool>
    private let black: IPSet<Bool>

    public init(whitelist: [CIDR], blacklist: [CIDR]) {
        self.whitelist = whitelist
        self.blacklist = blacklist
        white = IPSet(whitelist.map { ($0, true) })
        black = IPSet(blacklist.map { ($0, true) })
    }

    public static func == (a: RouteAccess, b: RouteAccess) -> Bool { a.whitelist == b.whitelist && a.blacklist == b.blacklist }

    public var isUnrestricted: Bool { whitelist.isEmpty && blacklist.isEmpty }

    public func allows(_ client: IPAddress) -> Bool {
        if !whitelist.isEmpty && white.longestMatch(client) == nil { return false }
        return black.longestMatch(client) == nil
    }
}
