import NIOCore

/// Idle keep-alive connections to upstreams, for one event loop (so it needs no lock: it is only
/// touched on that loop). At most `limit` idle connections per upstream; the oldest go first. The
/// last one put back is taken first; one idle longer than `maxIdle` is closed instead, with every
/// older one (no timer: they are looked at when next needed, and the upstream closing one removes
/// it). Those of an upstream that is never picked again (drained, disabled, removed by a reload)
/// are closed by `IdleConnectionSweep`. Indexed by the upstream's `poolIndex`, so a lookup is an
/// array access, not a hash.
// Confined to its event loop (checked on every call), so it is never touched concurrently.
final class UpstreamConnectionPool: @unchecked Sendable {
    let eventLoop: EventLoop
    private var idle: [[UpstreamHandler]] = []

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// `now` and `maxIdle`: uptime nanoseconds.
    func take(_ index: Int, maxIdle: UInt64, now: UInt64) -> UpstreamHandler? {
        eventLoop.preconditionInEventLoop()
        guard index < idle.count else { return nil }
        while let handler = idle[index].popLast() {
            guard handler.isActive else { continue }
            if now &- handler.pooledAt <= maxIdle { return handler }
            let older = idle[index]
            idle[index].removeAll()
            handler.close()
            for h in older { h.close() }
            return nil
        }
        return nil
    }

    /// `now`: uptime nanoseconds. A connection whose response ended in the middle of a read loop
    /// comes in only when that loop is over (`UpstreamHandler.parkUntilReadComplete`): bytes read
    /// after the response in the same loop are not another request's answer.
    func put(_ handler: UpstreamHandler, limit: Int, now: UInt64) {
        eventLoop.preconditionInEventLoop()
        guard limit > 0, handler.isActive else {
            handler.close()
            return
        }
        if handler.parkUntilReadComplete(limit: limit, now: now) { return }
        handler.pooledAt = now
        let index = handler.key
        if index >= idle.count { idle.append(contentsOf: repeatElement([], count: index + 1 - idle.count)) }
        idle[index].append(handler)
        if idle[index].count > limit { idle[index].removeFirst().close() }
    }

    func remove(_ handler: UpstreamHandler) {
        guard handler.key < idle.count else { return }
        idle[handler.key].removeAll { $0 === handler }
    }

    /// Closes the idle connections of every upstream whose index `keep` does not hold.
    func closeIdle(keeping keep: Set<Int>) {
        eventLoop.preconditionInEventLoop()
        for index in idle.indices where !idle[index].isEmpty && !keep.contains(index) {
            let gone = idle[index]
            idle[index].removeAll()
            for h in gone { h.close() }
        }
    }

    func closeAll() {
        let all = idle
        idle.removeAll()
        for list in all { for h in list { h.close() } }
    }
}
