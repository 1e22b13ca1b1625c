import Foundation
import Synchronization

/// A reverse_proxy route's upstreams: their config (weight, backup, passive-health limits), their
/// shared live state, and the route's balancer.
///
/// `pick` chooses among upstreams that are available (admin active, not down) with an effective
/// weight above 0 and not yet tried for this request; backups only when no primary qualifies.
public final class UpstreamGroup: Sendable {
    public struct Member: Sendable {
        public let config: XPSConfig.Upstream
        public let state: UpstreamState

        /// The operator's weight if set, else the config's. 0 = no new requests.
        public var weight: Int { state.weightOverride ?? config.weight }
    }

    public let members: [Member]
    private let balancer: Mutex<Balancer>

    init(upstreams: [XPSConfig.Upstream], policy: LoadBalancing, registry: UpstreamRegistry) {
        members = upstreams.map { Member(config: $0, state: registry.state(for: $0)) }
        balancer = Mutex(Balancer(policy: policy, count: upstreams.count))
    }

    /// The upstreams a request has tried (indexes into `members`).
    public struct Tried: Sendable {
        private var low: UInt64 = 0
        private var high: Set<Int> = []
        public private(set) var count = 0

        public init(_ indexes: some Sequence<Int> = []) {
            for i in indexes { insert(i) }
        }

        public func contains(_ i: Int) -> Bool { i < 64 ? low & (1 << UInt64(i)) != 0 : high.contains(i) }

        public mutating func insert(_ i: Int) {
            guard !contains(i) else { return }
            count += 1
            if i < 64 { low |= 1 << UInt64(i) } else { high.insert(i) }
        }
    }

    /// `now` (seconds since 1970) is only read for upstreams that were marked down.
    public func pick(client: IPAddress?, excluding tried: Tried, now: @autoclosure () -> Double = Date().timeIntervalSince1970) -> Int? {
        func candidates(backup: Bool) -> [Candidate] {
            var list: [Candidate] = []
            list.reserveCapacity(members.count)
            for (i, m) in members.enumerated() {
                guard m.config.backup == backup, !tried.contains(i), m.weight > 0, m.state.isAvailable(now: now()) else { continue }
                list.append(Candidate(index: i, weight: m.weight, inFlight: m.state.inFlight.load(ordering: .relaxed)))
            }
            return list
        }
        var list = candidates(backup: false)
        if list.isEmpty { list = candidates(backup: true) }
        guard !list.isEmpty else { return nil }
        let hash = Balancer.clientHash(client)
        let total = members.count
        return balancer.withLock { $0.pick(list, clientHash: hash, total: total) }
    }
}
