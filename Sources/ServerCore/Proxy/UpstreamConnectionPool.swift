import NIOCore

/// Idle keep-alive connections to upstreams, for one event loop (so it needs no lock: it is only
/// touched on that loop). At most `limit` idle connections per upstream address; the oldest go
/// first. A pooled connection that the upstream closes removes itself.
// Confined to its event loop (checked on every call), so it is never touched concurrently.
final class UpstreamConnectionPool: @unchecked Sendable {
    let eventLoop: EventLoop
    private var idle: [String: [Channel]] = [:]

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    func take(_ address: String) -> Channel? {
        eventLoop.preconditionInEventLoop()
        while var list = idle[address], let channel = list.popLast() {
            idle[address] = list
            if channel.isActive { return channel }
        }
        return nil
    }

    func put(_ channel: Channel, address: String, limit: Int) {
        eventLoop.preconditionInEventLoop()
        guard limit > 0, channel.isActive else {
            channel.close(promise: nil)
            return
        }
        var list = idle[address, default: []]
        if list.count >= limit { list.removeFirst().close(promise: nil) }
        list.append(channel)
        idle[address] = list
    }

    func remove(_ channel: ObjectIdentifier, address: String) {
        idle[address]?.removeAll { ObjectIdentifier($0) == channel }
    }

    func closeAll() {
        for list in idle.values { for c in list { c.close(promise: nil) } }
        idle.removeAll()
    }
}

/// One pool per event loop of the server, looked up without a lock.
public final class UpstreamPools: @unchecked Sendable {
    // Built once in init and never mutated; each pool is used only on its own loop.
    private let pools: [ObjectIdentifier: UpstreamConnectionPool]

    init(group: EventLoopGroup) {
        var p: [ObjectIdentifier: UpstreamConnectionPool] = [:]
        for loop in group.makeIterator() { p[ObjectIdentifier(loop)] = UpstreamConnectionPool(eventLoop: loop) }
        pools = p
    }

    func pool(for loop: EventLoop) -> UpstreamConnectionPool? { pools[ObjectIdentifier(loop)] }

    func closeAll() {
        for pool in pools.values { pool.eventLoop.execute { pool.closeAll() } }
    }
}
