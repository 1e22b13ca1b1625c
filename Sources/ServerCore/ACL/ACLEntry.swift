/// One global access-list entry: from the config's `acl.allow`/`acl.deny`, added by an operator
/// (`expctl acl deny`), or by auto-ban.
public struct ACLEntry: Sendable, Equatable {
    public enum Action: String, Sendable { case allow, deny }
    public enum Source: String, Sendable { case config, manual, auto }

    public var cidr: CIDR
    public var action: Action
    public var source: Source
    /// Epoch seconds.
    public var createdAt: Double
    /// Epoch seconds; nil never expires.
    public var expiresAt: Double?
    public var reason: String?
    public var createdBy: Int64?

    public init(cidr: CIDR, action: Action, source: Source, createdAt: Double, expiresAt: Double? = nil,
                reason: String? = nil, createdBy: Int64? = nil) {
        self.cidr = cidr
        self.action = action
        self.source = source
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.reason = reason
        self.createdBy = createdBy
    }

    @inline(__always)
    public func isActive(at now: Double) -> Bool { expiresAt.map { now < $0 } ?? true }
}
