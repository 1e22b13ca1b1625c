import NIOCore

/// Idle keep-alive connections to upstreams, for one event loop (so it needs no lock: it is only
/// touched on that loop). At most `limit` idle connections per upstream; the oldest go first. A
/// pooled connection that the upstream closes removes itself. Keyed by the upstream's live state
/// object, so a lookup hashes a pointer, not an address string.
// Confined to its event loop (checked on every call), so it is never touched concurrently.
final class UpstreamConnectionPool: @unchecked Sendable {
    let eventLoop: EventLoop
    private var idle: [ObjectIdentifier: [UpstreamHandler]] = [:]

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    func take(_ key: ObjectIdentifier) -> UpstreamHandler? {
        eventLoop.preconditionInEventLoop()
        while let handler = idle[key]?.popLast() {
            if handler.isActive { return handler }
        }
        return nil
    }

    func put(_ handler: UpstreamHandler, limit: Int) {
        eventLoop.preconditionInEventLoop()
        guard limit > 0, handler.isActive else {
            handler.close()
            return
        }
        idle[handler.key, default: []].append(handler)
        if idle[handler.key]!.count > limit { idle[handler.key]!.removeFirst().close() }
    }

    func remove(_ handler: UpstreamHandler) {
        idle[handler.key]?.removeAll { $0 === handler }
    }

    func closeAll() {
        for list in idle.values { for h in list { h.close() } }
        idle.removeAll()
    }
}
