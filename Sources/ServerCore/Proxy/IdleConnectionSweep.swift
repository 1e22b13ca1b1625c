import NIOCore
import Synchronization

/// Closes the idle keep-alive connections to upstreams that take no new requests: drained,
/// disabled or weighted 0 by the operator, or listed by no reverse_proxy route after a reload. A pool looks at
/// an upstream's idle connections only when that upstream is picked (`UpstreamConnectionPool.take`),
/// which such an upstream never is again: without this they would stay open for good, and a
/// backend that waits for its clients to leave before it exits would wait for ever. (HAProxy
/// closes them when a server enters maintenance, nginx when its old workers exit after a reload.)
///
/// It runs when that state changes (`changed`: an admin change, a reload), on every loop's pool;
/// the request path does nothing for it. Requests in flight to such an upstream are not touched,
/// but their connections go back to a pool when they end: the sweep runs again `recheck` after a
/// change, and again while any such request is in flight.
final class IdleConnectionSweep: Sendable {
    static let recheck = TimeAmount.milliseconds(500)
    private let state: ServerState
    private let group: EventLoopGroup
    /// A recheck is scheduled, and a change came after it was (so one more is due after it).
    private let pending = Mutex<(scheduled: Bool, again: Bool)>((false, false))
    private let stopped = Atomic<Bool>(false)

    init(state: ServerState, group: EventLoopGroup) {
        self.state = state
        self.group = group
    }

    /// The pool indexes of the upstreams whose idle connections may stay: those a reverse_proxy
    /// route of `config` lists, in the admin state `active`, with a weight above 0 there (weight 0
    /// takes no new requests either). (Health is no reason to close them: a down upstream comes
    /// back by itself, and stale connections are dropped when it is picked.)
    static func keeping(_ config: RuntimeConfig) -> Set<Int> {
        var keep = Set<Int>()
        for (_, route) in UpstreamControl.proxyRoutes(config) {
            for m in route.group.members where m.state.admin == .active && m.weight > 0 { keep.insert(m.state.poolIndex) }
        }
        return keep
    }

    /// An upstream's admin state or weight changed, or a reload swapped the config in.
    func changed() {
        sweep()
        recheckLater()
    }

    /// No more sweeps (the event loops are shutting down).
    func stop() { stopped.store(true, ordering: .releasing) }

    /// Closes, on every loop, the idle connections the current config does not keep; whether
    /// connections it does not keep are still in use by requests.
    @discardableResult
    private func sweep() -> Bool {
        guard !stopped.load(ordering: .acquiring), let pools = state.pools else { return false }
        let config = state.current.config
        let keep = Self.keeping(config)
        // Read before the pools are swept: a request whose end this does not see is waited for;
        // one whose end it sees has pooled its connection already, or is pooling it now, in a task
        // of its loop that runs before the sweep's.
        let inUse = config.upstreams.all.contains { !keep.contains($0.poolIndex) && $0.inFlight.load(ordering: .acquiring) > 0 }
        for pool in pools.all { pool.eventLoop.execute { pool.closeIdle(keeping: keep) } }
        return inUse
    }

    private func recheckLater() {
        let schedule = pending.withLock { p in
            if p.scheduled { p.again = true }
            defer { p.scheduled = true }
            return !p.scheduled
        }
        guard schedule, !stopped.load(ordering: .acquiring) else { return }
        group.next().scheduleTask(in: Self.recheck) { self.recheck() }
    }

    private func recheck() {
        let again = pending.withLock { p in
            defer { p = (false, false) }
            return p.again
        }
        if sweep() || again { recheckLater() }
    }
}
