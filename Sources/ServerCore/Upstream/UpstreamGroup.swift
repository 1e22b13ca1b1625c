import Foundation
import Synchronization

/// A reverse_proxy route's upstreams: their config (weight, backup, passive-health limits), their
/// shared live state, and the route's balancer.
///
/// `pick` chooses among upstreams that are available (admin active, not down) with an effective
/// weight above 0 and not yet tried for this request; backups only when no primary qualifies.
/// A route's only upstream is never down by passive health (nginx's rule: one failure would
/// otherwise refuse every request for `fail_timeout`); active checks and the admin state apply.
public final class UpstreamGroup: Sendable {
    /// A class: a request holds its upstream by one reference, not a copy of its config.
    public final class Member: Sendable {
        public let config: XPSConfig.Upstream
        public let state: UpstreamState
        /// ip_hash's key (`Balancer.upstreamKey` of its address).
        let key: UInt64

        init(config: XPSConfig.Upstream, state: UpstreamState) {
            self.config = config
            self.state = state
            key = Balancer.upstreamKey(config.address)
        }

        /// The operator's weight if set, else the config's. 0 = no new requests.
        public var weight: Int { state.weightOverride ?? config.weight }
    }

    public let members: [Member]
    /// One upstream only (passive health does not make it unavailable).
    public let single: Bool
    private let balancer: Mutex<Balancer>

    init(upstreams: [XPSConfig.Upstream], policy: LoadBalancing, registry: UpstreamRegistry) {
        members = upstreams.map { Member(config: $0, state: registry.state(for: $0)) }
        single = upstreams.count == 1
        balancer = Mutex(Balancer(policy: policy, count: upstreams.count))
    }

    /// The weight `m` gets new requests by now: 0 while it takes none (draining, disabled, down,
    /// weighted 0, or a backup while a primary takes them), else the operator's weight or the
    /// config's (what `upstream list` calls effective, as HAProxy's `eweight`).
    public func effectiveWeight(_ m: Member, now: Double) -> Int {
        guard takesRequests(m, now: now) else { return 0 }
        if m.config.backup && members.contains(where: { !$0.config.backup && takesRequests($0, now: now) }) { return 0 }
        return m.weight
    }

    /// `m` may get new requests (ahead of backup rules): weighted above 0, available (admin
    /// active, not down; passive health does not count for a route's only upstream). `now` is
    /// read only for an upstream that was marked down.
    private func takesRequests(_ m: Member, now: @autoclosure () -> Double) -> Bool {
        m.weight > 0 && m.state.isAvailable(now: now(), passive: !single)
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

    /// `now` (seconds since 1970) is only read for upstreams that were marked down. The
    /// candidates are listed on the stack (no allocation per request).
    public func pick(client: IPAddress?, excluding tried: Tried, now: @autoclosure () -> Double = Date().timeIntervalSince1970) -> Int? {
        withUnsafeTemporaryAllocation(of: Candidate.self, capacity: max(members.count, 1)) { buffer in
            func list(backup: Bool) -> Int {
                var n = 0
                for i in members.indices {
                    let m = members[i]
                    guard m.config.backup == backup, !tried.contains(i), takesRequests(m, now: now()) else { continue }
                    (buffer.baseAddress! + n).initialize(to: Candidate(index: i, weight: m.weight, inFlight: m.state.inFlight.load(ordering: .relaxed), key: m.key))
                    n += 1
                }
                return n
            }
            var n = list(backup: false)
            if n == 0 { n = list(backup: true) }
            guard n > 0 else { return nil }
            let candidates = UnsafeBufferPointer(rebasing: buffer[..<n])
            let hash = Balancer.clientHash(client)
            return balancer.withLock { $0.pick(candidates, clientHash: hash) }
        }
    }
}
