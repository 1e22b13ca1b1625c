import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The HTTP side of the daemon: one event loop per worker, one listening socket per unique
/// listener address (shared by all loops), and the per-connection pipeline.
///
/// `apply(_:)` swaps in a new config: listeners that appear are bound first (if one cannot be,
/// nothing changes), then the snapshot is swapped, then listeners that went away are closed.
/// `shutdown(grace:)` stops accepting, asks every connection to finish its current response,
/// waits up to `grace`, then closes what is left.
public final class HTTPServer: Sendable {
    public let group: MultiThreadedEventLoopGroup
    public let state: ServerState
    let threadPool: NIOThreadPool
    let logger: Logger
    private let listeners = Mutex<[XPSConfig.Listener: Channel]>([:])
    private let connections = ConnectionRegistry()
    private let health: HealthChecker
    private let idleSweep: IdleConnectionSweep
    /// The access list was made here (none was given): shutdown stops it.
    private let ownsAccess: Bool
    /// Decoder limits: a request line over `maxLineBytes` is 414; header fields over `limits.max_header_bytes` are 431.
    public static let maxLineBytes = 8 << 10

    public init(config: RuntimeConfig, logger: Logger, access: AccessControl? = nil) throws {
        self.logger = logger
        ownsAccess = access == nil
        group = MultiThreadedEventLoopGroup(numberOfThreads: config.workers)
        threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        health = HealthChecker(group: group)
        let accessLog = try config.accessLog.map { try AccessLog(destination: $0) }
        state = ServerState(
            snapshot: ServingSnapshot(config: config, accessLog: accessLog),
            dispatcher: RequestDispatcher(
                files: FileServer(), threadPool: threadPool,
                stats: ServerStats(connections: ConnectionStats(), routes: config.routeStats, workers: config.workers),
                gzipCache: GzipCache(maxBytes: config.source.gzipCacheMaxBytes)),
            access: try access ?? AccessControl(settings: config.acl, store: InMemoryStateStore()),
            pools: PerEventLoop(group: group) { UpstreamConnectionPool(eventLoop: $0) },
            timers: PerEventLoop(group: group) { LoopTimers(eventLoop: $0) },
            flushers: PerEventLoop(group: group) { LoopFlusher(eventLoop: $0) })
        idleSweep = IdleConnectionSweep(state: state, group: group)
    }

    /// Binds every listener of the current config; throws (naming the address) if one cannot be bound.
    @discardableResult
    public func start() throws -> [SocketAddress] {
        do {
            try bindMissing(state.current.config.listeners)
        } catch {
            shutdown(grace: .zero)
            throw error
        }
        health.start(state.current.config)
        return localAddresses
    }

    /// Binds the listeners not bound yet. On failure closes the ones it bound and throws.
    private func bindMissing(_ wanted: [XPSConfig.Listener]) throws {
        let existing = listeners.withLock { Set($0.keys) }
        var added: [XPSConfig.Listener: Channel] = [:]
        for listener in wanted where !existing.contains(listener) {
            do {
                added[listener] = try bootstrap(listener).bind(host: listener.host, port: listener.port).wait()
                logger.info("listening", metadata: ["address": "\(listener.host):\(listener.port)"])
            } catch {
                for channel in added.values { try? channel.close().wait() }
                let code = (error as? IOError)?.errnoCode
                var message = "cannot listen on \(listener.host):\(listener.port): \(code.map { String(cString: strerror($0)) } ?? "\(error)")"
                // A reload moving a port between addresses (0.0.0.0:P to 127.0.0.1:P) collides
                // with our own listener, closed only once the new config is in.
                if code == EADDRINUSE, let ours = existing.first(where: { $0.port == listener.port }) {
                    message += " (this daemon listens on \(ours.host):\(ours.port) until the new config is in: move a port"
                        + " between addresses with two reloads, one removing the old listener and one adding the new, or restart)"
                }
                throw ServerStartError(message: message)
            }
        }
        listeners.withLock { $0.merge(added) { a, _ in a } }
    }

    /// Installs `config`: binds new listeners, swaps the snapshot, closes listeners no longer
    /// configured and idle connections to upstreams no longer listed. Requests already running
    /// finish with the snapshot they started with.
    /// Throws (and changes nothing) when a new listener or the access log cannot be opened.
    public func apply(_ config: RuntimeConfig) throws {
        // The running log when the destination is the same (almost every reload): an old one
        // lives on while idle keep-alive connections still hold the snapshot it is in.
        let running = state.current.accessLog
        let reused = running.flatMap { $0.path == config.accessLog ? $0 : nil }
        let accessLog = try reused ?? config.accessLog.map { try AccessLog(destination: $0) }
        do {
            try bindMissing(config.listeners)
        } catch {
            if reused == nil { accessLog?.close() }
            throw error
        }
        // An old snapshot's access log that is not reused closes when the last answer begun
        // before the swap has logged (`AccessLog`), not now.
        _ = state.swap(ServingSnapshot(config: config, accessLog: accessLog))
        state.access.apply(config.acl)
        health.start(config)
        idleSweep.changed()  // (upstreams the new config no longer lists)
        let keep = Set(config.listeners)
        let removed = listeners.withLock { l in
            let gone = l.filter { !keep.contains($0.key) }
            for key in gone.keys { l[key] = nil }
            return gone
        }
        for (listener, channel) in removed {
            try? channel.close().wait()
            logger.info("stopped listening", metadata: ["address": "\(listener.host):\(listener.port)"])
        }
        // Their connections finish what they are answering and close (idle ones at once), as at a
        // shutdown: no server answers on that address any more, so a kept-alive client must
        // reconnect rather than get 404s.
        if !removed.isEmpty { connections.quiesce(acceptedOn: Set(removed.keys)) }
    }

    /// An upstream's admin state or weight changed: idle connections to one that takes no new
    /// requests are closed.
    func upstreamsChanged() { idleSweep.changed() }

    func bootstrap(_ listener: XPSConfig.Listener) -> ServerBootstrap {
        let state = self.state
        let connections = self.connections
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                if Self.refusedAtAccept(channel, access: state.access.snapshot) {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                if let max = state.current.config.limits.maxConnections, connections.count >= max {
                    // Over max_connections: refuse the newcomer; established connections are untouched.
                    state.connectionStats.refused.add(1, ordering: .relaxed)
                    channel.close(promise: nil)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                connections.add(channel, listener: listener)
                let stats = state.stats
                stats.connAccepted.add(1, ordering: .relaxed)
                stats.connCurrent.add(1, ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in stats.connCurrent.add(-1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    // Set here, synchronously: as a `childChannelOption` it went through a chain of
                    // futures, ~9k instructions per accepted connection. (TCP_NODELAY: accepted
                    // sockets inherit it from the listener, where ServerBootstrap sets it.)
                    try channel.syncOptions?.setOption(.maxMessagesPerRead, value: 16)
                    try Self.configure(channel.pipeline.syncOperations, state: state, listener: listener)
                }
            }
    }

    /// `acl.deny_action: "close"`: a denied peer is closed before anything is read. (Peers that
    /// are trusted proxies are judged per request, by the address they forward.)
    static func refusedAtAccept(_ channel: Channel, access: AccessControl.Snapshot) -> Bool {
        guard access.settings.denyAction == .close, !access.policy.isEmpty,
            let remote = channel.remoteAddress, let peer = IPAddress(remote), !access.isTrustedProxy(peer)
        else { return false }
        if case .deny(let entry) = access.policy.decide(peer, now: Date().timeIntervalSince1970) {
            access.hits.increment(entry)
            return true
        }
        return false
    }

    static func configure(_ pipeline: ChannelPipeline.SynchronousOperations, state: ServerState, listener: XPSConfig.Listener) throws {
        let config = state.current.config
        let limits = RequestHeadParser.Limits(maxLine: maxLineBytes, maxHeaderBytes: config.limits.maxHeaderBytes)
        let stats = state.connectionStats
        let timeouts = ConnectionTimer(settings: config.timeouts(for: listener), timers: state.timers, stats: state.stats) {
            stats.recordTimeout($0)
        }
        try pipeline.addHandler(HTTPConnectionHandler(state: state, listener: listener, limits: limits, timeouts: timeouts))
    }

    public var localAddresses: [SocketAddress] { listeners.withLock { $0.values.compactMap(\.localAddress) } }
    public var openConnections: Int { connections.count }

    /// Stops accepting, lets connections finish their current response for up to `grace`, then
    /// closes the rest and stops the event loops and the thread pool.
    public func shutdown(grace: TimeAmount = .seconds(10)) {
        let open = listeners.withLock { l in
            let all = Array(l.values)
            l.removeAll()
            return all
        }
        for channel in open { try? channel.close().wait() }
        health.stop()
        idleSweep.stop()
        connections.quiesceAll()
        let deadline = NIODeadline.now() + grace
        while connections.count > 0 && NIODeadline.now() < deadline {
            usleep(10_000)
        }
        connections.closeAll()
        for pool in state.pools?.all ?? [] { pool.eventLoop.execute { pool.closeAll() } }
        for flusher in state.flushers?.all ?? [] { flusher.eventLoop.execute { flusher.stop() } }
        try? group.syncShutdownGracefully()
        try? threadPool.syncShutdownGracefully()
        state.current.accessLog?.close()
        if ownsAccess { state.access.stop() }
    }
}

/// The open client connections and the listener each came in on, so shutdown (or a reload that
/// removes their listener) can ask them to finish and then close.
final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: (channel: Channel, listener: XPSConfig.Listener)]>([:])

    func add(_ channel: Channel, listener: XPSConfig.Listener) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = (channel, listener) }
        channel.closeFuture.whenComplete { _ in
            self.channels.withLock { $0[id] = nil }
        }
    }

    var count: Int { channels.withLock { $0.count } }

    func quiesceAll() {
        quiesce(channels.withLock { $0.values.map(\.channel) })
    }

    /// Those accepted on one of `listeners`.
    func quiesce(acceptedOn listeners: Set<XPSConfig.Listener>) {
        quiesce(channels.withLock { $0.values.filter { listeners.contains($0.listener) }.map(\.channel) })
    }

    private func quiesce(_ list: [Channel]) {
        for channel in list {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    func closeAll() {
        for channel in channels.withLock({ $0.values.map(\.channel) }) {
            try? channel.close().wait()
        }
    }
}

public struct ServerStartError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
