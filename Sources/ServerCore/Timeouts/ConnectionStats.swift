import Synchronization

/// Connection-level counters kept by the server (timeouts by kind, connections refused by
/// `max_connections`, read pauses of slow heads). Atomics: updated from any event loop without locks.
public final class ConnectionStats: Sendable {
    private let counters = HitCounters(count: ConnectionTimeouts.Kind.allCases.count)
    public let refused = Atomic<Int>(0)
    /// Times a slow head's reads were paused (`ConnectionTimeouts.readPause`).
    public let slowHeadPauses = Atomic<Int>(0)

    public init() {}

    func recordTimeout(_ kind: ConnectionTimeouts.Kind) {
        counters.increment(ConnectionTimeouts.Kind.allCases.firstIndex(of: kind)!)
    }

    public func timeouts(_ kind: ConnectionTimeouts.Kind) -> Int {
        counters[ConnectionTimeouts.Kind.allCases.firstIndex(of: kind)!]
    }

    public var totalTimeouts: Int { ConnectionTimeouts.Kind.allCases.reduce(0) { $0 + timeouts($1) } }
}
