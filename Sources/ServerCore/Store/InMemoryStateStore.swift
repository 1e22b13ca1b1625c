import ControlProtocol
import Synchronization

/// A `StateStore` that keeps everything in memory: the test double.
public final class InMemoryStateStore: StateStore {
    private let entries = Mutex<[AuditEntry]>([])
    private let acl = Mutex<[CIDR: ACLEntry]>([:])
    private let upstreams = Mutex<[String: StoredUpstream]>([:])

    public init() {}

    @discardableResult
    public func appendAudit(_ r: AuditRecord) throws -> Int64 {
        entries.withLock { e in
            let id = Int64(e.count + 1)
            e.append(AuditEntry(id: id, time: r.time, uid: r.uid, pid: r.pid, action: r.action, arguments: r.arguments, result: r.result, reason: r.reason))
            return id
        }
    }

    public func audit(since: Double?, limit: Int) throws -> [AuditEntry] {
        entries.withLock { e in Array(e.filter { $0.time >= (since ?? 0) }.suffix(limit)) }
    }

    public func putACL(_ entry: ACLEntry, audit: AuditRecord) throws {
        acl.withLock { $0[entry.cidr] = entry }
        try appendAudit(audit)
    }

    public func removeACL(_ cidr: CIDR, audit: AuditRecord) throws -> Bool {
        guard acl.withLock({ $0.removeValue(forKey: cidr) }) != nil else { return false }
        try appendAudit(audit)
        return true
    }

    public func aclEntries() throws -> [ACLEntry] { acl.withLock { Array($0.values).sorted { $0.createdAt < $1.createdAt } } }

    public func pruneACL(expiredBefore before: Double) throws {
        acl.withLock { $0 = $0.filter { ($0.value.expiresAt ?? .infinity) >= before } }
    }

    public func putUpstream(_ state: StoredUpstream, audit: AuditRecord) throws {
        upstreams.withLock { $0[state.address] = state }
        try appendAudit(audit)
    }

    public func upstreamStates() throws -> [StoredUpstream] {
        upstreams.withLock { $0.values.sorted { $0.address < $1.address } }
    }
}
