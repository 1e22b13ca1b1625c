import ControlProtocol
import Synchronization

/// A `StateStore` that keeps everything in memory: the test double.
public final class InMemoryStateStore: StateStore {
    private let entries = Mutex<[AuditEntry]>([])
    private let acl = Mutex<[CIDR: ACLEntry]>([:])
    private let upstreams = Mutex<[String: StoredUpstream]>([:])
    private let statsState = Mutex<(totals: [String: Int], samples: [(Double, [String: Int])])>(([:], []))

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

    public func saveStats(_ totals: [String: Int], time: Double, pruneBefore: Double) throws {
        statsState.withLock { s in
            s.totals = totals
            s.samples = s.samples.filter { $0.0 >= pruneBefore } + [(time, totals)]
        }
    }

    public func statsTotals() throws -> [String: Int] { statsState.withLock { $0.totals } }

    public func statsSample(atOrBefore time: Double) throws -> (time: Double, totals: [String: Int])? {
        statsState.withLock { s in s.samples.last { $0.0 <= time }.map { ($0.0, $0.1) } }
    }

    public func oldestStatsSample() throws -> (time: Double, totals: [String: Int])? {
        statsState.withLock { s in s.samples.min { $0.0 < $1.0 }.map { ($0.0, $0.1) } }
    }
}
