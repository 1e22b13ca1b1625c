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

extension XPSConfig {
    /// Decodes and validates config JSON. Throws `ConfigError` naming the key path of the first problem.
    public static func parse(_ data: Data) throws -> XPSConfig {
        let root: JSONValue
        do {
            root = try JSONParser.parse(data)
        } catch is JSONParser.SyntaxError {
            root = try decodeWithFoundation(data)
        }
        return try parse(root)
    }

    /// `JSONDecoder`'s reading, used for its wording of a syntax error (line and column); it
    /// also takes what the parser does not (UTF-16 text).
    static func decodeWithFoundation(_ data: Data) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch let DecodingError.dataCorrupted(ctx) {
            let detail = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            throw ConfigError("", "not valid JSON" + (detail.map { ": \($0)" } ?? ""))
        } catch {
            throw ConfigError("", "not valid JSON: \(error)")
        }
    }

    static func parse(_ root: JSONValue) throws -> XPSConfig {
        let top = try ConfigObject(root, path: "")
        try top.checkKeys(["server_name", "workers", "servers", "access_log", "error_log", "state_db", "control", "shutdown_grace_ms", "acl", "timeouts", "limits", "gzip_cache_max_bytes", "stats"])
        guard let servers = try top.array("servers") else { throw ConfigError("servers", "is required") }
        guard !servers.isEmpty else { throw ConfigError("servers", "must contain at least one server") }
        // The top level's timeouts first: a server's own block starts from them.
        let timeouts = try top.object("timeouts").map { try parseTimeouts($0, base: Timeouts(), upstream: true) } ?? Timeouts()
        var config = XPSConfig(
            serverName: try top.string("server_name") ?? "eXpServer",
            workers: try top.int("workers", in: 1...1024),
            servers: try servers.map { try parseServer($0.value, path: $0.path, timeouts: timeouts) },
            accessLog: try top.string("access_log")
        )
        config.timeouts = timeouts
        try checkOneHealthCheckPerUpstream(config.servers)
        config.errorLog = try top.string("error_log")
        config.stateDB = try top.string("state_db")
        // "" would resolve to the config's directory: SQLite's "unable to open" would not say why.
        if config.stateDB?.isEmpty == true { throw ConfigError("state_db", "must not be empty") }
        config.shutdownGraceMs = try top.int("shutdown_grace_ms", in: 0...3_600_000) ?? 10_000
        if let control = try top.object("control") { config.control = try parseControl(control) }
        if let acl = try top.object("acl") { config.acl = try parseACL(acl) }
        config.gzipCacheMaxBytes = try top.int("gzip_cache_max_bytes", in: 0...(1 << 40)) ?? config.gzipCacheMaxBytes
        if let l = try top.object("limits") { config.limits = try parseLimits(l) }
        if let st = try top.object("stats") {
            try st.checkKeys(["flush_ms", "retention_hours", "enabled"])
            config.statsEnabled = try st.bool("enabled") ?? true
            config.statsFlushMs = try st.int("flush_ms", in: 100...3_600_000) ?? config.statsFlushMs
            config.statsRetentionHours = try st.int("retention_hours", in: 1...87_600) ?? config.statsRetentionHours
        }
        return config
    }

    /// An upstream address has one health state, whichever routes list it, so routes that check
    /// the same address must check it the same way (two checks would feed one state two verdicts,
    /// and one route's `fall`/`rise` would silently not apply).
    static func checkOneHealthCheckPerUpstream(_ servers: [Server]) throws {
        var first: [String: (path: String, check: HealthCheck)] = [:]
        for (si, server) in servers.enumerated() {
            for (ri, route) in server.routes.enumerated() {
                guard let check = route.healthCheck else { continue }
                let path = "servers[\(si)].routes[\(ri)].health_check"
                for upstream in route.upstreams {
                    if let earlier = first[upstream.address] {
                        guard earlier.check == check else {
                            throw ConfigError(path, "upstream \(upstream.address) is also checked by \(earlier.path) with other "
                                + "settings; an upstream has one health state, so its checks must be the same")
                        }
                    } else {
                        first[upstream.address] = (path, check)
                    }
                }
            }
        }
    }

    static func parseTimeouts(_ t: ConfigObject, base: Timeouts, upstream: Bool) throws -> Timeouts {
        let client = ["header_ms", "body_ms", "keepalive_ms", "send_ms"]
        try t.checkKeys(Set(upstream ? client + ["upstream_connect_ms", "upstream_read_ms", "upstream_keepalive_ms"] : client))
        var out = base
        if let h = try t.int("header_ms", in: 1...86_400_000) {
            out.headerMs = h
            out.headerMsConfigured = true
        }
        out.bodyMs = try t.int("body_ms", in: 1...86_400_000) ?? out.bodyMs
        out.keepaliveMs = try t.int("keepalive_ms", in: 1...86_400_000) ?? out.keepaliveMs
        out.sendMs = try t.int("send_ms", in: 1...86_400_000) ?? out.sendMs
        if upstream {
            out.upstreamConnectMs = try t.int("upstream_connect_ms", in: 1...3_600_000) ?? out.upstreamConnectMs
            out.upstreamReadMs = try t.int("upstream_read_ms", in: 1...86_400_000) ?? out.upstreamReadMs
            out.upstreamKeepaliveMs = try t.int("upstream_keepalive_ms", in: 1...86_400_000) ?? out.upstreamKeepaliveMs
        }
        return out
    }

    static func parseLimits(_ l: ConfigObject) throws -> Limits {
        try l.checkKeys(["max_connections", "max_header_bytes", "max_body_bytes", "max_requests_per_connection"])
        var limits = Limits()
        limits.maxConnections = try l.int("max_connections", in: 1...10_000_000)
        limits.maxHeaderBytes = try l.int("max_header_bytes", in: 1024...(1 << 20)) ?? limits.maxHeaderBytes
        limits.maxBodyBytes = try l.int("max_body_bytes", in: 0...(1 << 50))
        limits.maxRequestsPerConnection = try l.int("max_requests_per_connection", in: 1...100_000_000)
        return limits
    }

    static func parseACL(_ obj: ConfigObject) throws -> ACLSettings {
        try obj.checkKeys(["allow", "deny", "deny_action", "trusted_proxies", "auto_ban"])
        var acl = ACLSettings()
        acl.allow = try cidrList(obj, "allow")
        acl.deny = try cidrList(obj, "deny")
        acl.trustedProxies = try cidrList(obj, "trusted_proxies")
        if let action = try obj.string("deny_action") {
            guard let a = ACLSettings.DenyAction(rawValue: action) else {
                throw ConfigError(obj.keyPath("deny_action"), "\"\(action)\" is not \"403\" or \"close\"")
            }
            acl.denyAction = a
        }
        if let ban = try obj.object("auto_ban") {
            try ban.checkKeys(["window_ms", "max_requests", "max_4xx", "ban_ms"])
            let settings = AutoBanSettings(
                windowMs: try ban.int("window_ms", in: 100...86_400_000) ?? 10_000,
                maxRequests: try ban.int("max_requests", in: 1...100_000_000),
                max4xx: try ban.int("max_4xx", in: 1...100_000_000),
                banMs: try ban.int("ban_ms", in: 1000...31_536_000_000) ?? 600_000)
            guard settings.maxRequests != nil || settings.max4xx != nil else {
                throw ConfigError(ban.path, "needs max_requests or max_4xx")
            }
            acl.autoBan = settings
        }
        return acl
    }

    static func parseControl(_ obj: ConfigObject) throws -> ControlSettings {
        try obj.checkKeys(["socket", "mode", "allowed_uids", "allowed_gids"])
        var settings = ControlSettings(socket: try obj.string("socket"))
        if let mode = try obj.string("mode") {
            guard !mode.isEmpty, mode.count <= 4, let m = UInt32(mode, radix: 8), m & 0o7000 == 0 else {
                throw ConfigError(obj.keyPath("mode"), "\"\(mode)\" is not an octal file mode such as \"0600\" or \"0660\"")
            }
            settings.mode = m
        }
        func ids(_ key: String) throws -> [UInt32] {
            try (obj.array(key) ?? []).map { item in
                guard case .number(let d) = item.value, d >= 0, d <= Double(UInt32.max), d == d.rounded() else {
                    throw ConfigError(item.path, "expected a numeric id, found \(item.value.rendered)")
                }
                return UInt32(d)
            }
        }
        settings.allowedUIDs = try ids("allowed_uids")
        settings.allowedGIDs = try ids("allowed_gids")
        return settings
    }

    /// `timeouts`: the top level's, which a server's own `timeouts` block overrides key by key.
    static func parseServer(_ value: JSONValue, path: String, timeouts: Timeouts) throws -> Server {
        let obj = try ConfigObject(value, path: path)
        try obj.checkKeys(["listeners", "hostnames", "routes", "timeouts"])
        guard let listenerItems = try obj.array("listeners"), !listenerItems.isEmpty else {
            throw ConfigError(obj.keyPath("listeners"), "is required and must not be empty")
        }
        let listeners = try listenerItems.map { item -> Listener in
            let l = try ConfigObject(item.value, path: item.path)
            try l.checkKeys(["host", "port"])
            var host = try l.string("host") ?? "0.0.0.0"
            guard !host.isEmpty else { throw ConfigError(l.keyPath("host"), "must not be empty") }
            // "[::1]" as URLs write it: the address inside (bind would look "[::1]" up as a name).
            if host.hasPrefix("[") && host.hasSuffix("]") {
                host = String(host.dropFirst().dropLast())
                guard isIPv6Literal(host) else {
                    throw ConfigError(l.keyPath("host"), "\"[\(host)]\": the brackets hold no IPv6 address")
                }
            }
            guard let port = try l.int("port", in: 1...65535) else { throw ConfigError(l.keyPath("port"), "is required") }
            return Listener(host: host, port: port)
        }
        let routes = try (obj.array("routes") ?? []).map { try parseRoute($0.value, path: $0.path) }
        var server = Server(listeners: listeners, hostnames: try obj.stringArray("hostnames") ?? [], routes: routes)
        if let t = try obj.object("timeouts") { server.timeouts = try parseTimeouts(t, base: timeouts, upstream: false) }
        return server
    }

    static let commonRouteKeys: Set<String> = ["req_path", "type", "ip_whitelist", "ip_blacklist", "max_body_bytes"]
    static let routeKeys: [RouteType: Set<String>] = [
        .fileServe: commonRouteKeys.union(["dir_path", "index", "gzip_enable", "gzip_level", "gzip_mime_types", "gzip_min_length", "gzip_listing"]),
        .redirect: commonRouteKeys.union(["http_status_code", "redirect_url"]),
        .reverseProxy: commonRouteKeys.union([
            "upstreams", "load_balancing", "health_check", "retries", "upstream_keepalive",
            "gzip_proxied", "gzip_level", "gzip_mime_types", "gzip_min_length",
        ]),
        .metrics: commonRouteKeys.union(["format"]),
    ]

    static func parseRoute(_ value: JSONValue, path: String) throws -> Route {
        let obj = try ConfigObject(value, path: path)
        let reqPath = try obj.requiredString("req_path")
        guard reqPath.hasPrefix("/") else { throw ConfigError(obj.keyPath("req_path"), "\"\(reqPath)\" must start with /") }
        let typeName = try obj.requiredString("type")
        guard let type = RouteType(rawValue: typeName) else {
            throw ConfigError(obj.keyPath("type"), "\"\(typeName)\" is not a route type (file_serve, redirect, reverse_proxy, metrics)")
        }
        try obj.checkKeys(routeKeys[type]!)
        var route = Route(
            reqPath: reqPath, type: type,
            ipWhitelist: try cidrList(obj, "ip_whitelist"), ipBlacklist: try cidrList(obj, "ip_blacklist"),
            dirPath: nil, index: [], gzipEnable: false, gzipLevel: -1, gzipMimeTypes: [],
            redirectURL: nil, httpStatusCode: 302, upstreams: [], loadBalancing: "round_robin")
        route.maxBodyBytes = try obj.int("max_body_bytes", in: 0...(1 << 50))
        switch type {
        case .fileServe:
            route.dirPath = try obj.requiredString("dir_path")
            route.index = try obj.stringArray("index") ?? []
            for (i, name) in route.index.enumerated() where name.isEmpty || name.contains("/") {
                throw ConfigError("\(obj.keyPath("index"))[\(i)]", "\"\(name)\" must be a file name without /")
            }
            route.gzipEnable = try obj.bool("gzip_enable") ?? false
            route.gzipLevel = try obj.int("gzip_level", in: -1...9) ?? -1
            route.gzipMimeTypes = try obj.stringArray("gzip_mime_types") ?? []
            route.gzipMinLength = try obj.int("gzip_min_length", in: 0...1_073_741_824) ?? 256
            route.gzipListing = try obj.bool("gzip_listing") ?? false
        case .redirect:
            let url = try obj.requiredString("redirect_url")
            guard !url.isEmpty, !url.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw ConfigError(obj.keyPath("redirect_url"), "must be a non-empty URL without control characters")
            }
            route.redirectURL = url
            // Taken verbatim, as eXpServer does (compat 2.6); one a client does not follow is a warning.
            route.httpStatusCode = try obj.int("http_status_code", in: 300...399) ?? 302
        case .metrics:
            let format = try obj.string("format") ?? "json"
            guard format == "json" || format == "prometheus" else {
                throw ConfigError(obj.keyPath("format"), "\"\(format)\" is not json or prometheus")
            }
            route.metricsFormat = format
        case .reverseProxy:
            guard let items = try obj.array("upstreams"), !items.isEmpty else {
                throw ConfigError(obj.keyPath("upstreams"), "is required and must list at least one upstream")
            }
            route.upstreams = try items.map { try parseUpstream($0.value, path: $0.path) }
            let lb = try obj.string("load_balancing") ?? "round_robin"
            guard LoadBalancing(rawValue: lb) != nil else {
                throw ConfigError(obj.keyPath("load_balancing"), "\"\(lb)\" is not a policy (round_robin, least_conn, ip_hash, random_two)")
            }
            route.loadBalancing = lb
            var seen = Set<String>()
            for (i, u) in route.upstreams.enumerated() where !seen.insert(u.address).inserted {
                throw ConfigError("\(obj.keyPath("upstreams"))[\(i)]", "\"\(u.address)\" is listed twice")
            }
            route.retries = try obj.int("retries", in: 0...100)
            route.gzipProxied = try obj.bool("gzip_proxied") ?? false
            route.gzipLevel = try obj.int("gzip_level", in: -1...9) ?? -1
            route.gzipMimeTypes = try obj.stringArray("gzip_mime_types") ?? []
            route.gzipMinLength = try obj.int("gzip_min_length", in: 0...1_073_741_824) ?? 256
            route.upstreamKeepalive = try obj.int("upstream_keepalive", in: 0...10_000) ?? 32
            if let hc = try obj.object("health_check") {
                try hc.checkKeys(["path", "interval_ms", "timeout_ms", "fall", "rise"])
                var check = HealthCheck()
                check.path = try hc.string("path") ?? "/"
                guard check.path.hasPrefix("/"), !check.path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
                    throw ConfigError(hc.keyPath("path"), "\"\(check.path)\" must be a path starting with / without spaces")
                }
                check.intervalMs = try hc.int("interval_ms", in: 100...3_600_000) ?? 5000
                check.timeoutMs = try hc.int("timeout_ms", in: 10...600_000) ?? 2000
                check.fall = try hc.int("fall", in: 1...100) ?? 3
                check.rise = try hc.int("rise", in: 1...100) ?? 2
                route.healthCheck = check
            }
        }
        return route
    }

    /// Routes are matched on the request's pathname as `PathResolver` makes it: cut at `?` and
    /// `#`, percent-decoded, runs of `/` collapsed, no `.` or `..` segments. A prefix not in that
    /// form would never match (every request to it a 404), so it is refused.
    /// Whether `host` is an IPv6 address in text (what brackets may hold), by the project's one
    /// address parser.
    static func isIPv6Literal(_ host: String) -> Bool {
        host.contains(":") && AddressText.address(Substring(host)) != nil
    }

    /// Why no request can match `reqPath`, if none can (request paths are matched decoded,
    /// normalised and without the query). A warning, not an error: eXpServer loads such configs.
    static func reqPathNeverMatches(_ reqPath: String) -> String? {
        if let c = reqPath.first(where: { $0 == "?" || $0 == "#" }) {
            return "\"\(reqPath)\" can never match: a request's path ends before its first \(c)"
        }
        if reqPath.contains("%") {
            return "\"\(reqPath)\" can never match: request paths are matched percent-decoded (write the character, not %XX)"
        }
        let segments = reqPath.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (i, segment) in segments.enumerated() {
            if segment == "." || segment == ".." {
                return "\"\(reqPath)\" can never match: request paths are normalised (no . or .. segments)"
            }
            // Only the last may be empty: a trailing slash.
            if segment.isEmpty && i < segments.count - 1 {
                return "\"\(reqPath)\" can never match: runs of / in request paths are collapsed to one"
            }
        }
        return nil
    }

    static func cidrList(_ obj: ConfigObject, _ key: String) throws -> [CIDR] {
        try (obj.array(key) ?? []).map { item in
            guard case .string(let s) = item.value else {
                throw ConfigError(item.path, "expected an IP address or CIDR string, found \(item.value.typeName)")
            }
            guard let cidr = CIDR(s) else { throw ConfigError(item.path, "\"\(s)\" is not a valid IP address or CIDR") }
            return cidr
        }
    }

    static func parseUpstream(_ value: JSONValue, path: String) throws -> Upstream {
        var address: String
        var weight = 1
        var maxFails = 1
        var failTimeout = 10_000
        var backup = false
        var addressPath = path
        switch value {
        case .string(let s):
            address = s
        case .object:
            let obj = try ConfigObject(value, path: path)
            try obj.checkKeys(["address", "weight", "max_fails", "fail_timeout_ms", "backup"])
            address = try obj.requiredString("address")
            addressPath = obj.keyPath("address")
            weight = try obj.int("weight", in: 0...1000) ?? 1
            maxFails = try obj.int("max_fails", in: 0...1000) ?? 1
            failTimeout = try obj.int("fail_timeout_ms", in: 100...86_400_000) ?? 10_000
            backup = try obj.bool("backup") ?? false
        default:
            throw ConfigError(path, "expected \"host:port\" or an object, found \(value.typeName)")
        }
        // An address that can never be connected to is refused here, not answered with 502s.
        guard !address.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw ConfigError(addressPath, "\"\(address)\" contains a space or a control character")
        }
        guard let (host, port) = HostPort.split(address) else {
            throw ConfigError(addressPath, "\"\(address)\" is not host:port")
        }
        // Decimal digits only: Int() would also take "+80".
        guard !port.isEmpty, port.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let p = Int(port), (1...65535).contains(p) else {
            throw ConfigError(addressPath, "\"\(address)\" does not have a valid port (1-65535)")
        }
        if address.hasPrefix("[") {
            guard isIPv6Literal(host) else {
                throw ConfigError(addressPath, "\"\(address)\": \"\(host)\" in brackets is not an IPv6 address")
            }
        }
        return Upstream(host: host, port: p, weight: weight, maxFails: maxFails, failTimeoutMs: failTimeout, backup: backup)
    }
}

/// Splits `host:port` and `[v6]:port`.
enum HostPort {
    static func split(_ text: String) -> (host: String, port: Substring)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), !host.isEmpty else { return nil }
            return (host, rest.dropFirst())
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = String(text[..<colon])
        guard !host.isEmpty, !host.contains(":") else { return nil }
        return (host, text[text.index(after: colon)...])
    }
}
