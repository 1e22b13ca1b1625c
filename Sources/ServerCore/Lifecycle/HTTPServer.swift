import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The HTTP side of the daemon: one event loop per worker, one listening socket per unique
/// listener address (shared by all loops; the kernel's accept queue spreads connections),
/// and the per-connection pipeline.
public final class HTTPServer: Sendable {
    public let group: MultiThreadedEventLoopGroup
    public let state: ServerState
    let threadPool: NIOThreadPool
    let logger: Logger
    private let channels = Mutex<[Channel]>([])
    /// Connections idle this long (nothing read or written) are closed silently, as eXpServer does.
    public static let idleTimeout = TimeAmount.seconds(60)
    /// Decoder limits: a request line over `maxLineBytes` is 414; a head over `maxHeadBytes` is 431.
    public static let maxLineBytes = 8 << 10
    public static let maxHeadBytes = 32 << 10

    public init(config: RuntimeConfig, logger: Logger) throws {
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: config.workers)
        threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        let accessLog = try config.accessLog.map { try AccessLog(destination: $0) }
        state = ServerState(
            snapshot: ServingSnapshot(config: config, accessLog: accessLog),
            dispatcher: RequestDispatcher(files: FileServer(), threadPool: threadPool))
    }

    /// Binds every listener; throws (naming the address) if one cannot be bound.
    @discardableResult
    public func start() throws -> [SocketAddress] {
        var bound: [SocketAddress] = []
        for (id, listener) in state.current.config.listeners.enumerated() {
            let channel: Channel
            do {
                channel = try bootstrap(listenerID: id).bind(host: listener.host, port: listener.port).wait()
            } catch {
                shutdown()
                throw ServerStartError(message: "cannot listen on \(listener.host):\(listener.port): \(error)")
            }
            channels.withLock { $0.append(channel) }
            if let addr = channel.localAddress { bound.append(addr) }
            logger.info("listening", metadata: ["address": "\(listener.host):\(listener.port)"])
        }
        return bound
    }

    func bootstrap(listenerID: Int) -> ServerBootstrap {
        let state = self.state
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel.pipeline.syncOperations, state: state, listenerID: listenerID)
                }
            }
    }

    static func configure(_ pipeline: ChannelPipeline.SynchronousOperations, state: ServerState, listenerID: Int) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = maxLineBytes
        limits.maxHeaderListSize = maxHeadBytes
        limits.maxHeaderFieldCount = 200
        let headGuard = HeadGuard()
        try pipeline.addHandler(headGuard)
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: limits)))
        try pipeline.addHandler(HTTPConnectionHandler(state: state, listenerID: listenerID, headGuard: headGuard, idleTimeout: idleTimeout))
    }

    public var localAddresses: [SocketAddress] { channels.withLock { $0.compactMap(\.localAddress) } }

    /// Closes the listeners, then the event loops and the thread pool.
    public func shutdown() {
        let open = channels.withLock { c in
            let all = c
            c.removeAll()
            return all
        }
        for channel in open { try? channel.close().wait() }
        try? group.syncShutdownGracefully()
        try? threadPool.syncShutdownGracefully()
        state.current.accessLog?.close()
    }
}

public struct ServerStartError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
