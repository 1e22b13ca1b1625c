import ControlProtocol
import Synchronization

/// A `StateStore` that keeps everything in memory: the test double.
public final class InMemoryStateStore: StateStore {
    private let entries = Mutex<[AuditEntry]>([])

    public init() {}

    public func appendAudit(_ r: AuditRecord) throws -> Int64 {
        entries.withLock { e in
            let id = Int64(e.count + 1)
            e.append(AuditEntry(id: id, time: r.time, uid: r.uid, pid: r.pid, action: r.action, arguments: r.arguments, result: r.result, reason: r.reason))
            return id
        }
    }

    public func audit(since: Double?, limit: Int) throws -> [AuditEntry] {
        entries.withLock { e in Array(e.filter { $0.time >= (since ?? 0) }.prefix(limit)) }
    }
}
