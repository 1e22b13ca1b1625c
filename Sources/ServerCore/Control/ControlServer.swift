import ControlProtocol
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix

/// The control socket: HTTP/1.1 + JSON on a Unix-domain socket.
///
/// Start-up rules: a socket file left by a dead daemon (nothing accepts on it) is replaced; a
/// socket on which a live daemon answers is never taken over (`ControlSocketError.inUse`), nor
/// one on which something listens but does not accept (`.notAccepting`: a hung daemon); any
/// other file at the path is left alone and refused. The socket is created with mode 0600 (or
/// `mode`) — never briefly wider — and removed on `stop()`.
///
/// Control requests run on the server's own thread pool, created and shut down with it: they
/// block on SQLite (up to its busy timeout while another writer holds the lock), and on the HTTP
/// server's pool they would hold up directory listings and gzip.
public final class ControlServer: Sendable {
    public let path: String
    private let channel: Channel
    private let threadPool: NIOThreadPool
    /// How long a connection may take to send a whole request (see `ControlRequestTimeout`).
    public static let requestTimeout = TimeAmount.seconds(30)

    public static func start(
        path: String, mode: mode_t, group: EventLoopGroup, router: ControlRouter, access: LiveControlAccess,
        audit: @escaping @Sendable (AuditRecord) -> Void
    ) throws -> ControlServer {
        try prepare(path)
        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .childChannelInitializer { channel in
                configureConnection(channel, router: router, access: access, threadPool: threadPool, audit: audit)
            }
        let old = umask(0o177)
        defer { umask(old) }
        let channel: Channel
        do {
            channel = try bootstrap.bind(unixDomainSocketPath: path).wait()
        } catch {
            try? threadPool.syncShutdownGracefully()
            // The system's reason, not NIO's text (which names its internal call).
            let detail = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
            throw ControlSocketError.cannotBind(path: path, detail: detail)
        }
        chmod(path, mode)
        return ControlServer(path: path, channel: channel, threadPool: threadPool)
    }

    /// The pipeline of one control connection: HTTP/1.1 codec, the request timeout, then `ControlHTTPHandler`.
    static func configureConnection(
        _ channel: Channel, router: ControlRouter, access: LiveControlAccess, threadPool: NIOThreadPool,
        requestTimeout: TimeAmount = requestTimeout, audit: @escaping @Sendable (AuditRecord) -> Void
    ) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(ControlRequestTimeout(timeout: requestTimeout))
            try channel.pipeline.syncOperations.addHandler(
                ControlHTTPHandler(router: router, access: access, threadPool: threadPool, audit: audit))
        }
    }

    private init(path: String, channel: Channel, threadPool: NIOThreadPool) {
        self.path = path
        self.channel = channel
        self.threadPool = threadPool
    }

    public func stop() {
        try? channel.close().wait()
        unlink(path)
        try? threadPool.syncShutdownGracefully()
    }

    /// Removes a stale socket file; refuses a live one or a non-socket file.
    static func prepare(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFSOCK else { throw ControlSocketError.notASocket(path: path) }
        try refuseIfOccupied(path)
        unlink(path)
    }

    /// Throws unless nobody listens on `path` (no file, or a stale socket file).
    static func refuseIfOccupied(_ path: String) throws {
        switch probe(path) {
        case .absent: return
        case .live: throw ControlSocketError.inUse(path: path)
        case .notAccepting: throw ControlSocketError.notAccepting(path: path)
        }
    }

    public enum Probe: Equatable {
        /// Nothing listens there (no file, a stale socket file, or no permission to tell).
        case absent
        case live
        /// Something listens but did not accept within `UnixSocket.connectTimeoutSeconds`: a
        /// hung daemon. Never taken for "absent": a second daemon would replace a live socket.
        case notAccepting
    }

    /// What listens on the Unix socket at `path`; waits at most `UnixSocket.connectTimeoutSeconds`.
    public static func probe(_ path: String) -> Probe {
        switch UnixSocket.connect(path: path) {
        case .success(let fd):
            close(fd)
            return .live
        case .failure(.system(ETIMEDOUT)): return .notAccepting
        case .failure: return .absent
        }
    }

    /// Whether something accepts connections on the Unix socket at `path`.
    public static func isLive(_ path: String) -> Bool { probe(path) == .live }
}

public enum ControlSocketError: Error, CustomStringConvertible {
    case inUse(path: String)
    case notAccepting(path: String)
    case notASocket(path: String)
    case cannotBind(path: String, detail: String)

    public var description: String {
        switch self {
        case .inUse(let p): return "another expserverd is running: its control socket \(p) is answering"
        case .notAccepting(let p):
            return "a process listens on the control socket \(p) but does not accept connections (a hung expserverd?); refusing to start"
        case .notASocket(let p): return "\(p) exists and is not a socket; refusing to replace it"
        case .cannotBind(let p, let d): return "cannot create control socket \(p): \(d)"
        }
    }
}
