import ControlProtocol
import Foundation

/// The config file as the operator wrote it: eXpServer's `xps_config.json` keys plus expserver's
/// extensions, decoded and checked key by key. `ConfigCompiler` turns it into a `RuntimeConfig`.
public struct XPSConfig: Sendable, Equatable {
    public var serverName: String
    public var workers: Int?
    public var servers: [Server]
    public var accessLog: String?
    public var errorLog: String?
    public var stateDB: String?
    public var control: ControlSettings = ControlSettings()
    /// How long SIGTERM waits for in-flight requests, in milliseconds.
    public var shutdownGraceMs: Int = 10_000
    public var acl = ACLSettings()
    public var timeouts = Timeouts()
    public var limits = Limits()

    /// The `limits` block.
    public struct Limits: Sendable, Equatable {
        /// Open client connections at most; beyond it new ones are closed at accept.
        public var maxConnections: Int?
        /// The whole request head (431 beyond it; a request line over 8 KiB is 414).
        public var maxHeaderBytes = 32 << 10
        /// Request bodies (413 beyond it); a route's `max_body_bytes` overrides it.
        public var maxBodyBytes: Int?
        /// Requests served on one connection before it is closed (1 = eXpServer's one request
        /// per connection).
        public var maxRequestsPerConnection: Int?
    }
    /// `stats.flush_ms`: how often the statistics are saved; `stats.retention_hours`: history kept.
    public var statsFlushMs = 5_000
    /// `stats.enabled: false` skips per-request statistics (for measuring their cost).
    public var statsEnabled = true
    public var statsRetentionHours = 168
    /// Memory for compressed variants of static files.
    public var gzipCacheMaxBytes = 64 << 20

    public struct Server: Sendable, Equatable {
        public var listeners: [Listener]
        public var hostnames: [String]
        public var routes: [Route]
        /// This server's client-side timeouts, when it overrides the top level's.
        public var timeouts: Timeouts? = nil
    }

    public struct Listener: Sendable, Equatable, Hashable {
        public var host: String
        public var port: Int
    }

    public enum RouteType: String, Sendable, Equatable {
        case fileServe = "file_serve"
        case redirect
        case reverseProxy = "reverse_proxy"
        /// Serves the statistics (eXpServer's metrics JSON, or Prometheus text).
        case metrics
    }

    public struct Route: Sendable, Equatable {
        public var reqPath: String
        public var type: RouteType
        public var ipWhitelist: [CIDR]
        public var ipBlacklist: [CIDR]
        /// Overrides `limits.max_body_bytes` for this route.
        public var maxBodyBytes: Int? = nil
        // file_serve
        public var dirPath: String?
        public var index: [String]
        public var gzipEnable: Bool
        public var gzipLevel: Int
        public var gzipMimeTypes: [String]
        public var gzipMinLength: Int = 256
        /// Opt-in: compress directory listings too (eXpServer never does).
        public var gzipListing: Bool = false
        // redirect
        public var redirectURL: String?
        public var httpStatusCode: Int
        // reverse_proxy
        public var upstreams: [Upstream]
        public var loadBalancing: String
        public var healthCheck: HealthCheck? = nil
        /// How many more upstreams to try after the first fails; nil = all of them.
        public var retries: Int? = nil
        /// Idle keep-alive connections kept per upstream (per worker); 0 = none.
        public var upstreamKeepalive: Int = 32
        /// reverse_proxy, opt-in: gzip upstream responses that are not encoded already.
        public var gzipProxied: Bool = false
        /// metrics: `json` (eXpServer's keys) or `prometheus`.
        public var metricsFormat: String = "json"
    }

    public struct Upstream: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var weight: Int
        /// Passive health: this many failures within `failTimeoutMs` mark the upstream down for
        /// `failTimeoutMs` (0 disables), as nginx's `max_fails` / `fail_timeout`.
        public var maxFails: Int = 1
        public var failTimeoutMs: Int = 10_000
        /// Used only when no primary upstream is available.
        public var backup: Bool = false

        public init(host: String, port: Int, weight: Int, maxFails: Int = 1, failTimeoutMs: Int = 10_000, backup: Bool = false) {
            self.host = host
            self.port = port
            self.weight = weight
            self.maxFails = maxFails
            self.failTimeoutMs = failTimeoutMs
            self.backup = backup
        }

        /// `host:port` (`[v6]:port`): how operators name an upstream.
        public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The `timeouts` block (top level; `header_ms`…`send_ms` can be overridden per server).
    public struct Timeouts: Sendable, Equatable {
        /// The whole request head must arrive within this of its first byte (and a connection
        /// that never sends anything is closed after it).
        public var headerMs = 60_000
        /// Set when `header_ms` was configured: then a partial head gets 408 at the deadline;
        /// by default it is closed silently, as eXpServer does.
        public var headerMsConfigured = false
        /// Inactivity while reading a request body.
        public var bodyMs = 60_000
        /// Idle time between requests on a keep-alive connection.
        public var keepaliveMs = 60_000
        /// How long the client may not read (the socket stays unwritable) while we send.
        public var sendMs = 60_000
        /// Connecting to an upstream; past it the next upstream is tried, and 504 when none is left.
        public var upstreamConnectMs = 5_000
        /// Waiting for upstream bytes once the request is sent; past it 504 (or close mid-response).
        public var upstreamReadMs = 60_000
        /// An idle kept-alive upstream connection is not used again after this: shorter than the
        /// idle timeouts upstreams commonly close with (Node's 5 s), so a request does not go out
        /// on a connection the upstream is closing at that moment (a POST could not be sent again).
        public var upstreamKeepaliveMs = 4_000
    }

    /// `health_check`: active checks of every upstream of the route.
    public struct HealthCheck: Sendable, Equatable {
        public var path: String = "/"
        public var intervalMs: Int = 5000
        public var timeoutMs: Int = 2000
        public var fall: Int = 3
        public var rise: Int = 2
    }
}
