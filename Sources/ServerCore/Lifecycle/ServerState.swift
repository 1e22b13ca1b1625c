import Synchronization

/// What a request is served with: the config and the things opened from it. Immutable; a reload
/// builds a new one and swaps it in, and requests already running keep the one they started with.
public final class ServingSnapshot: Sendable {
    public let config: RuntimeConfig
    public let accessLog: AccessLog?

    public init(config: RuntimeConfig, accessLog: AccessLog?) {
        self.config = config
        self.accessLog = accessLog
    }
}

/// The daemon's shared, swappable state, handed to every connection.
public final class ServerState: Sendable {
    private let snapshot: Mutex<ServingSnapshot>
    public let dispatcher: RequestDispatcher
    public let access: AccessControl
    /// Idle upstream connections, one pool per event loop.
    let pools: PerEventLoop<UpstreamConnectionPool>?
    /// Connection deadlines, one wheel per event loop.
    let timers: PerEventLoop<LoopTimers>?
    /// Flushes deferred to the end of each loop's batch of I/O events.
    let flushers: PerEventLoop<LoopFlusher>?
    public let connectionStats: ConnectionStats
    public let stats: ServerStats

    init(snapshot: ServingSnapshot, dispatcher: RequestDispatcher, access: AccessControl,
         pools: PerEventLoop<UpstreamConnectionPool>?, timers: PerEventLoop<LoopTimers>?,
         flushers: PerEventLoop<LoopFlusher>?) {
        self.snapshot = Mutex(snapshot)
        self.dispatcher = dispatcher
        self.access = access
        self.pools = pools
        self.timers = timers
        self.flushers = flushers
        stats = dispatcher.stats
        connectionStats = stats.connections
    }

    public var current: ServingSnapshot { snapshot.withLock { $0 } }
    /// Bumped after every swap: connections keep the snapshot they read and re-read it (under the
    /// lock) only when this changed, so the request path does not take a shared lock.
    public let generation = Atomic<UInt64>(0)

    /// Installs a new snapshot and returns the old one.
    @discardableResult
    public func swap(_ new: ServingSnapshot) -> ServingSnapshot {
        let old = snapshot.withLock { s in
            let old = s
            s = new
            return old
        }
        generation.add(1, ordering: .releasing)
        return old
    }
}
