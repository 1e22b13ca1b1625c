/// The validated, compiled config the server runs on: immutable, shared by every event loop,
/// swapped as a whole on reload. Nothing on the request path parses strings out of it.
public final class RuntimeConfig: Sendable {
    /// The client timeouts of connections on `listener`.
    public func timeouts(for listener: XPSConfig.Listener) -> ConnectionTimeouts.Settings {
        listenerTimeouts[listener] ?? Self.settings(timeouts)
    }

    static func settings(_ t: XPSConfig.Timeouts) -> ConnectionTimeouts.Settings {
        ConnectionTimeouts.Settings(
            headerMs: t.headerMs, bodyMs: t.bodyMs, keepaliveMs: t.keepaliveMs, sendMs: t.sendMs, respond408: t.headerMsConfigured)
    }

    /// What the operator wrote (kept for `status` and for re-validation on reload).
    public let source: XPSConfig
    /// Absolute path of the config file, nil for the built-in default.
    public let configPath: String?
    public let serverName: String
    public let workers: Int
    /// Unique listening addresses, in order of first appearance.
    public let listeners: [XPSConfig.Listener]
    public let routing: Routing
    public let accessLog: String?
    /// listener address → its index in `listeners` (what `routing` is keyed by).
    public let listenerIDs: [XPSConfig.Listener: Int]
    public let stateDB: String?
    public let control: ControlSettings
    public let errorLog: String?
    public let shutdownGrace: Int
    public let acl: ACLSettings
    public let timeouts: XPSConfig.Timeouts
    public let limits: XPSConfig.Limits
    /// Each listener's client timeouts (the same for every server on it: see `ConfigCompiler.timeoutsByListener`).
    public let listenerTimeouts: [XPSConfig.Listener: ConnectionTimeouts.Settings]
    /// Live upstream state by address (shared with the previous config across a reload).
    public let upstreams: UpstreamRegistry
    /// Per-route traffic counters by label (shared with the previous config across a reload).
    public let routeStats: RouteStatsRegistry
    /// Problems that do not stop the config (an upstream name that does not resolve now: DNS may
    /// come up later); the daemon logs them at start and reload, `--check` prints them.
    public let warnings: [ConfigError]

    init(source: XPSConfig, configPath: String?, serverName: String, workers: Int,
         listeners: [XPSConfig.Listener], routing: Routing, accessLog: String?,
         stateDB: String? = nil, control: ControlSettings = ControlSettings(), errorLog: String? = nil, shutdownGrace: Int = 10_000,
         acl: ACLSettings = ACLSettings(), timeouts: XPSConfig.Timeouts = XPSConfig.Timeouts(),
         upstreams: UpstreamRegistry = UpstreamRegistry(), limits: XPSConfig.Limits = XPSConfig.Limits(),
         listenerTimeouts: [XPSConfig.Listener: ConnectionTimeouts.Settings] = [:], routeStats: RouteStatsRegistry = RouteStatsRegistry(),
         warnings: [ConfigError] = []) {
        self.source = source
        self.configPath = configPath
        self.serverName = serverName
        self.workers = workers
        self.listeners = listeners
        self.routing = routing
        self.accessLog = accessLog
        var ids: [XPSConfig.Listener: Int] = [:]
        for (i, l) in listeners.enumerated() { ids[l] = i }
        self.listenerIDs = ids
        self.stateDB = stateDB
        self.control = control
        self.errorLog = errorLog
        self.shutdownGrace = shutdownGrace
        self.acl = acl
        self.timeouts = timeouts
        self.upstreams = upstreams
        self.limits = limits
        self.listenerTimeouts = listenerTimeouts
        self.routeStats = routeStats
        self.warnings = warnings
    }
}

/// One route, ready to run.
/// A class: the matched route is handed along on every request (one reference, not a copy of
/// every field).
public final class CompiledRoute: Sendable {
    public let reqPath: String
    /// Position in the server's `routes` array (ties on prefix length go to the earlier route).
    public let order: Int
    public let access: RouteAccess
    public let action: RouteAction
    /// The route's `max_body_bytes`, else the top-level limit; nil = unlimited.
    public let maxBodyBytes: Int?
    /// This route's traffic counters (by label, so they survive reloads).
    public let stats: TrafficStats?
    public let label: String

    public init(
        reqPath: String, order: Int, access: RouteAccess, action: RouteAction, maxBodyBytes: Int? = nil,
        stats: TrafficStats? = nil, label: String = ""
    ) {
        self.reqPath = reqPath
        self.order = order
        self.access = access
        self.action = action
        self.maxBodyBytes = maxBodyBytes
        self.stats = stats
        self.label = label
    }
}

public enum RouteAction: Sendable {
    case fileServe(FileServeRoute)
    case redirect(status: Int, location: String)
    case reverseProxy(ProxyRoute)
    case metrics(prometheus: Bool)
}

/// A class, not a struct: routes are passed along on every request, and copying a struct of
/// this many references costs a retain and release per field.
public final class FileServeRoute: Sendable {
    /// The root: paths are built from it as configured; every served path must stay below the
    /// canonical path it leads to at the time of the request.
    public let root: RouteRoot
    public let index: [String]
    public let gzipEnable: Bool
    public let gzipLevel: Int
    public let gzipMimeTypes: [String]
    public let compression: CompressionPolicy
    public let gzipListing: Bool

    init(root: String, index: [String], gzipEnable: Bool, gzipLevel: Int, gzipMimeTypes: [String], compression: CompressionPolicy,
         gzipListing: Bool) {
        self.root = RouteRoot(root)
        self.index = index
        self.gzipEnable = gzipEnable
        self.gzipLevel = gzipLevel
        self.gzipMimeTypes = gzipMimeTypes
        self.compression = compression
        self.gzipListing = gzipListing
    }
}

/// A class for the same reason as `FileServeRoute`.
public final class ProxyRoute: Sendable {
    public let upstreams: [XPSConfig.Upstream]
    public let loadBalancing: String
    public let policy: LoadBalancing
    public let healthCheck: XPSConfig.HealthCheck?
    public let retries: Int?
    public let upstreamKeepalive: Int
    public let timeouts: XPSConfig.Timeouts
    /// The route's live upstream group (balancer state, health), set up by `HTTPServer`.
    public let group: UpstreamGroup
    /// `gzip_proxied`: compress upstream responses that are not encoded (nil: off).
    public let gzip: CompressionPolicy?
    public let gzipLevel: Int

    init(upstreams: [XPSConfig.Upstream], loadBalancing: String, policy: LoadBalancing, healthCheck: XPSConfig.HealthCheck?,
         retries: Int?, upstreamKeepalive: Int, timeouts: XPSConfig.Timeouts, group: UpstreamGroup, gzip: CompressionPolicy?,
         gzipLevel: Int) {
        self.upstreams = upstreams
        self.loadBalancing = loadBalancing
        self.policy = policy
        self.healthCheck = healthCheck
        self.retries = retries
        self.upstreamKeepalive = upstreamKeepalive
        self.timeouts = timeouts
        self.group = group
        self.gzip = gzip
        self.gzipLevel = gzipLevel
    }
}

/// The `control` block: where the control socket lives and who may use it.
public struct ControlSettings: Sendable, Equatable {
    /// Absolute socket path; nil means "beside the state db".
    public var socket: String?
    public var mode: UInt32
    public var allowedUIDs: [UInt32]
    public var allowedGIDs: [UInt32]

    public init(socket: String? = nil, mode: UInt32 = 0o600, allowedUIDs: [UInt32] = [], allowedGIDs: [UInt32] = []) {
        self.socket = socket
        self.mode = mode
        self.allowedUIDs = allowedUIDs
        self.allowedGIDs = allowedGIDs
    }
}
