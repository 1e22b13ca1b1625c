import ControlProtocol
import Foundation

/// Reading the config file: the top level, servers, timeouts, limits, access control and the
/// control socket. Routes and upstreams are read in XPSConfig+Routes.swift.
extension XPSConfig {
    /// Decodes and validates config JSON. Throws `ConfigError` naming the key path of the first problem.
    public static func parse(_ data: Data) throws -> XPSConfig {
        if let encoding = wideEncoding(data) {
            throw ConfigError("", "the config must be UTF-8 (RFC 8259), as eXpServer reads it; this looks like \(encoding): "
                + "convert it, e.g. iconv -f \(encoding) -t UTF-8")
        }
        do {
            return try parse(JSONParser.parse(data))
        } catch let error as JSONParser.SyntaxError {
            throw ConfigError("", "not valid JSON at \(error)")
        }
    }

    /// UTF-16 or UTF-32 text, by its byte order mark or by NULs among the first bytes (JSON text
    /// starts with ASCII; RFC 4627 §3's detection), or nil.
    static func wideEncoding(_ data: Data) -> String? {
        let b = Array(data.prefix(4))
        guard b.count >= 2 else { return nil }
        if b.count == 4 && b[0] == 0 && b[1] == 0 { return "UTF-32BE" }
        if b.count == 4 && b[2] == 0 && b[3] == 0 && (b[1] == 0 || (b[0] == 0xFF && b[1] == 0xFE)) { return "UTF-32LE" }
        if (b[0] == 0xFE && b[1] == 0xFF) || b[0] == 0 { return "UTF-16BE" }
        if (b[0] == 0xFF && b[1] == 0xFE) || b[1] == 0 { return "UTF-16LE" }
        return nil
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
        try checkOnePassiveHealthPerUpstream(config.servers)
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

    /// Passive health is one state per address too: routes that list the same address must give
    /// it the same `max_fails` and `fail_timeout_ms` (or one route's limits would mark it down
    /// for every route, and the other's would silently not apply). A route's only upstream is
    /// left out: passive health never marks it down there, so its limits do not apply.
    static func checkOnePassiveHealthPerUpstream(_ servers: [Server]) throws {
        var first: [String: (path: String, maxFails: Int, failTimeoutMs: Int)] = [:]
        for (si, server) in servers.enumerated() {
            for (ri, route) in server.routes.enumerated() where route.upstreams.count > 1 {
                for (ui, upstream) in route.upstreams.enumerated() {
                    let path = "servers[\(si)].routes[\(ri)].upstreams[\(ui)]"
                    guard let earlier = first[upstream.address] else {
                        first[upstream.address] = (path, upstream.maxFails, upstream.failTimeoutMs)
                        continue
                    }
                    for (key, here, there) in [("max_fails", upstream.maxFails, earlier.maxFails),
                                               ("fail_timeout_ms", upstream.failTimeoutMs, earlier.failTimeoutMs)] where here != there {
                        throw ConfigError("\(path).\(key)", "\(here) here but \(there) at \(earlier.path) for \(upstream.address) "
                            + "(a value not given is the default); an upstream has one passive-health state, so give it the same "
                            + "max_fails and fail_timeout_ms on every route")
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
}
