import ControlProtocol

/// What a control-plane action looked like, for the audit log.
public struct AuditRecord: Sendable, Equatable {
    public var time: Double
    public var uid: Int64?
    public var pid: Int64?
    public var action: String
    public var arguments: String
    public var result: String
    public var reason: String?

    public init(time: Double, uid: Int64?, pid: Int64?, action: String, arguments: String, result: String, reason: String?) {
        self.time = time
        self.uid = uid
        self.pid = pid
        self.action = action
        self.arguments = arguments
        self.result = result
        self.reason = reason
    }
}

/// The daemon's durable state. Every method is blocking and must not run on an event loop;
/// a method that returns has committed (the change survives `kill -9`).
public protocol StateStore: Sendable {
    /// Appends an audit record; returns its id.
    @discardableResult
    func appendAudit(_ record: AuditRecord) throws -> Int64
    /// The newest `limit` records at or after `since` (epoch seconds), in time order.
    func audit(since: Double?, limit: Int) throws -> [AuditEntry]

    /// Adds or replaces the dynamic ACL entry for `entry.cidr`, with its audit record, in one commit.
    func putACL(_ entry: ACLEntry, audit: AuditRecord) throws
    /// Removes the entry for `cidr` with its audit record; false (and nothing written) when absent.
    func removeACL(_ cidr: CIDR, audit: AuditRecord) throws -> Bool
    /// Every stored dynamic entry, expired ones included.
    func aclEntries() throws -> [ACLEntry]
    /// Deletes entries that expired before `before` (epoch seconds).
    func pruneACL(expiredBefore before: Double) throws

    /// Stores the operator's state for an upstream address (admin state, weight override), with
    /// its audit record, in one commit.
    func putUpstream(_ state: StoredUpstream, audit: AuditRecord) throws
    func upstreamStates() throws -> [StoredUpstream]

    /// Saves the cumulative counters, appends them as a history sample at `time`, and drops
    /// samples older than `pruneBefore`.
    func saveStats(_ totals: [String: Int], time: Double, pruneBefore: Double) throws
    func statsTotals() throws -> [String: Int]
    /// The newest history sample at or before `time`.
    func statsSample(atOrBefore time: Double) throws -> (time: Double, totals: [String: Int])?
    /// The oldest history sample kept (where the retained history starts).
    func oldestStatsSample() throws -> (time: Double, totals: [String: Int])?
}

/// An upstream address's operator-set state, as persisted.
public struct StoredUpstream: Sendable, Equatable {
    public var address: String
    public var admin: UpstreamState.Admin
    public var weight: Int?

    public init(address: String, admin: UpstreamState.Admin, weight: Int?) {
        self.address = address
        self.admin = admin
        self.weight = weight
    }
}
