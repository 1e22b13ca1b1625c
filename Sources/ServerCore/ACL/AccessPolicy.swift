/// The global access list as one immutable value: every active entry in an `IPSet`.
///
/// **The decision** (`decide`): the most specific matching entry that has not expired decides —
/// allow or deny — so `allow 10.1.2.3` inside `deny 10.0.0.0/8` lets 10.1.2.3 in and keeps the
/// rest of 10/8 out. No matching entry: allowed. An operator's entry replaces a config entry for
/// the same prefix. IPv4-mapped IPv6 clients are compared as IPv4.
///
/// The request check is `RequestDispatcher`'s: this decision first (a deny ends it; connections
/// memoise it), then, once the route is known, its `ip_whitelist`/`ip_blacklist` (`RouteAccess`,
/// eXpServer's semantics).
public struct AccessPolicy: Sendable {
    public let table: IPSet<ACLEntry>

    public init(config: [ACLEntry] = [], dynamic: [ACLEntry] = []) {
        // Later inserts replace earlier ones on the same prefix: dynamic entries win, with the
        // config's entry for their prefix behind them (it decides again the moment they expire).
        var t = IPSet<ACLEntry>(config.map { ($0.cidr, $0, $0.expiresAt) })
        var configByPrefix: [CIDR: ACLEntry] = [:]
        for entry in config { configByPrefix[entry.cidr] = entry }
        for entry in dynamic { t.insert(entry.cidr, entry, expiresAt: entry.expiresAt, behind: configByPrefix[entry.cidr].map { ($0, $0.expiresAt) }) }
        table = t
    }

    private init(table: IPSet<ACLEntry>) { self.table = table }

    /// This policy with `entry` added (or replacing the entry for its prefix), `behind` it the
    /// config's entry for the same prefix, if any (deciding again the moment `entry` expires).
    /// Costs a copy of the table and one insert, not a rebuild. Returns the entry's index.
    public func inserting(_ entry: ACLEntry, behind: ACLEntry? = nil) -> (AccessPolicy, Int) {
        var t = table
        t.insert(entry.cidr, entry, expiresAt: entry.expiresAt, behind: behind.map { ($0, $0.expiresAt) })
        return (AccessPolicy(table: t), t.exactIndex(entry.cidr)!)
    }

    /// This policy without the entry for `cidr`; `fallback` (the config's entry for the same
    /// prefix, if any) takes its place.
    public func removing(_ cidr: CIDR, fallback: ACLEntry?) -> AccessPolicy {
        var t = table
        if let fallback {
            t.insert(cidr, fallback, expiresAt: fallback.expiresAt)
        } else {
            t.tombstone(cidr)
        }
        return AccessPolicy(table: t)
    }

    public var entries: [ACLEntry] { table.values }
    public var isEmpty: Bool { table.count == 0 }

    public enum Decision: Equatable, Sendable {
        /// No entry matched.
        case noMatch
        /// `entry` is the index of the deciding entry in `entries`.
        case allow(entry: Int)
        case deny(entry: Int)

        public var allows: Bool {
            if case .deny = self { return false }
            return true
        }
    }

    @inline(__always)
    public func decide(_ client: IPAddress, now: Double) -> Decision {
        if table.count == 0 { return .noMatch }
        guard let i = table.longestMatchIndex(client, now: now) else { return .noMatch }
        return table.values[i].action == .allow ? .allow(entry: i) : .deny(entry: i)
    }
}
