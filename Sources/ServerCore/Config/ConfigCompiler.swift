import Foundation
import NIOCore

/// Turns a decoded `XPSConfig` into a `RuntimeConfig`: resolves relative paths against the config
/// file's directory, canonicalises roots, de-duplicates listeners and builds the routing tables.
/// All filesystem checks happen here, once, so a bad config is refused before anything binds.
public enum ConfigCompiler {
    public static func compile(
        _ config: XPSConfig, configPath: String?, baseDirectory: String, workersOverride: Int? = nil,
        upstreams: UpstreamRegistry = UpstreamRegistry(), routeStats: RouteStatsRegistry = RouteStatsRegistry()
    ) throws -> RuntimeConfig {
        try checkListeners(config.servers)
        var listeners: [XPSConfig.Listener] = []
        var listenerIndex: [XPSConfig.Listener: Int] = [:]
        var servers: [VirtualServer] = []
        for (si, server) in config.servers.enumerated() {
            var ids: [Int] = []
            for listener in server.listeners {
                if let id = listenerIndex[listener] {
                    ids.append(id)
                } else {
                    listenerIndex[listener] = listeners.count
                    ids.append(listeners.count)
                    listeners.append(listener)
                }
            }
            var routes: [CompiledRoute] = []
            for (ri, route) in server.routes.enumerated() {
                let path = "servers[\(si)].routes[\(ri)]"
                let label = "servers[\(si)] \(route.reqPath)"
                routes.append(CompiledRoute(
                    reqPath: route.reqPath, order: ri,
                    access: RouteAccess(whitelist: route.ipWhitelist, blacklist: route.ipBlacklist),
                    action: try compileAction(
                        route, path: path, baseDirectory: baseDirectory, timeouts: config.timeouts, upstreams: upstreams),
                    maxBodyBytes: route.maxBodyBytes ?? config.limits.maxBodyBytes, stats: routeStats.stats(for: label),
                    label: label))
            }
            servers.append(VirtualServer(
                listenerIDs: Set(ids), hostnames: server.hostnames, routes: RouteTable(routes)))
        }
        let listenerTimeouts = try timeoutsByListener(config)
        let workers = workersOverride ?? config.workers ?? System.coreCount
        return RuntimeConfig(
            source: config, configPath: configPath, serverName: config.serverName, workers: max(1, workers),
            listeners: listeners, routing: Routing(servers: servers, listenerCount: listeners.count),
            accessLog: config.accessLog.map { $0 == "-" || $0 == "stdout" ? $0 : absolute($0, base: baseDirectory) },
            stateDB: config.stateDB.map { absolute($0, base: baseDirectory) },
            control: {
                var c = config.control
                c.socket = c.socket.map { absolute($0, base: baseDirectory) }
                return c
            }(),
            errorLog: config.errorLog.map { absolute($0, base: baseDirectory) },
            shutdownGrace: config.shutdownGraceMs, acl: config.acl, timeouts: config.timeouts, upstreams: upstreams,
            limits: config.limits, listenerTimeouts: listenerTimeouts, routeStats: routeStats,
            warnings: routeWarnings(config.servers))
    }

    /// Each listener's client timeouts: its servers' own block (the keys it omits are the top
    /// level's), else the top level's. They run before a request's Host picks a server, so
    /// servers sharing a listener must have the same ones: with different blocks one server's
    /// would silently apply to the other's clients. Refused, naming both.
    static func timeoutsByListener(_ config: XPSConfig) throws -> [XPSConfig.Listener: ConnectionTimeouts.Settings] {
        var byListener: [XPSConfig.Listener: (settings: ConnectionTimeouts.Settings, server: Int)] = [:]
        func key(_ si: Int) -> String {
            config.servers[si].timeouts == nil ? "servers[\(si)] (no timeouts block: the top level's)" : "servers[\(si)].timeouts"
        }
        for (si, server) in config.servers.enumerated() {
            let settings = RuntimeConfig.settings(server.timeouts ?? config.timeouts)
            for l in server.listeners {
                guard let first = byListener[l] else {
                    byListener[l] = (settings, si)
                    continue
                }
                guard first.settings == settings else {
                    throw ConfigError(
                        server.timeouts == nil ? "servers[\(si)]" : "servers[\(si)].timeouts",
                        "connection timeouts differ from \(key(first.server)) on the listener they share (\(l.host):\(l.port)); "
                            + "they apply per listener, before the Host header picks a server, so they must be the same")
                }
            }
        }
        return byListener.mapValues(\.settings)
    }

    /// Each listener's host must resolve as bind resolves it (NIO takes getaddrinfo's first
    /// answer), and listeners on one port must not overlap: Linux refuses to bind an address
    /// twice, or on a port that a wildcard of its family holds (`::` holds IPv4 too, dual-stack
    /// being the default). Only identical host strings are merged into one listener, so anything
    /// else that overlaps (0.0.0.0 and 127.0.0.1, localhost and 127.0.0.1) is refused here, where
    /// --check and a reload see it, and not by the bind.
    static func checkListeners(_ servers: [XPSConfig.Server]) throws {
        var byPort: [Int: [(listener: XPSConfig.Listener, ip: String, v6: Bool, path: String)]] = [:]
        var seen = Set<XPSConfig.Listener>()
        func name(_ l: XPSConfig.Listener) -> String { l.host.contains(":") ? "[\(l.host)]:\(l.port)" : "\(l.host):\(l.port)" }
        for (si, server) in servers.enumerated() {
            for (li, listener) in server.listeners.enumerated() where seen.insert(listener).inserted {
                let path = "servers[\(si)].listeners[\(li)]"
                let address: SocketAddress
                do {
                    address = try SocketAddress.makeAddressResolvingHost(listener.host, port: listener.port)
                } catch {
                    throw ConfigError(path + ".host", "\"\(listener.host)\" is not an IP address or a name that resolves (\(error))")
                }
                let ip = address.ipAddress ?? listener.host
                var v6 = false
                if case .v6 = address { v6 = true }
                for other in byPort[listener.port] ?? [] {
                    let why: String
                    if other.ip == ip {
                        why = "both are \(ip)"
                    } else if other.ip == "::" || ip == "::" {
                        why = ":: takes every address, IPv4 too (dual-stack)"
                    } else if (other.ip == "0.0.0.0" && !v6) || (ip == "0.0.0.0" && !other.v6) {
                        why = "0.0.0.0 takes every IPv4 address"
                    } else {
                        continue
                    }
                    throw ConfigError(path, "\(name(listener)) overlaps \(other.path) (\(name(other.listener))): \(why), so it "
                        + "cannot be bound as well; list the same host in both servers (they are told apart by hostnames)")
                }
                byPort[listener.port, default: []].append((listener, ip, v6, path))
            }
        }
    }

    /// Routes eXpServer loads but that cannot do what they say, one warning each: a req_path no
    /// request can match, a second route with a req_path already taken (the first wins the tie,
    /// compat 1.4), a redirect status a client does not follow. Not errors: an eXpServer config
    /// must run unchanged.
    static func routeWarnings(_ servers: [XPSConfig.Server]) -> [ConfigError] {
        var warnings: [ConfigError] = []
        for (si, server) in servers.enumerated() {
            var first: [String: Int] = [:]
            for (ri, route) in server.routes.enumerated() {
                let path = "servers[\(si)].routes[\(ri)]"
                if let reason = XPSConfig.reqPathNeverMatches(route.reqPath) {
                    warnings.append(ConfigError(path + ".req_path", reason))
                }
                if let earlier = first[route.reqPath] {
                    warnings.append(ConfigError(
                        path + ".req_path", "\"\(route.reqPath)\" is also servers[\(si)].routes[\(earlier)]'s, which wins: this route is never used"))
                } else {
                    first[route.reqPath] = ri
                }
                if route.type == .redirect && ![301, 302, 303, 307, 308].contains(route.httpStatusCode) {
                    warnings.append(ConfigError(
                        path + ".http_status_code", "\(route.httpStatusCode) is sent as it is, but clients do not follow its Location (301, 302, 303, 307, 308 do)"))
                }
            }
        }
        return warnings
    }

    /// Upstream names that do not resolve now, one warning each (at the first key that lists
    /// it), as nginx's "host not found in upstream" but not fatal: DNS may come up after us, and
    /// each request resolves again. IP literals are not looked up. Asked for by `--check` only:
    /// with DNS down each lookup can take the resolver's whole timeout, which a start or a reload
    /// (holding its lock, while expctl waits) should not.
    public static func unresolvedUpstreams(_ servers: [XPSConfig.Server]) -> [ConfigError] {
        var seen = Set<String>()
        var warnings: [ConfigError] = []
        for (si, server) in servers.enumerated() {
            for (ri, route) in server.routes.enumerated() {
                for (ui, upstream) in route.upstreams.enumerated() where seen.insert(upstream.host).inserted {
                    guard (try? SocketAddress(ipAddress: upstream.host, port: upstream.port)) == nil else { continue }
                    do {
                        _ = try SocketAddress.makeAddressResolvingHost(upstream.host, port: upstream.port)
                    } catch {
                        warnings.append(ConfigError(
                            "servers[\(si)].routes[\(ri)].upstreams[\(ui)]",
                            "host \"\(upstream.host)\" does not resolve now (\(error)); requests to it get 502 until it does"))
                    }
                }
            }
        }
        return warnings
    }

    static func compileAction(
        _ route: XPSConfig.Route, path: String, baseDirectory: String, timeouts: XPSConfig.Timeouts, upstreams: UpstreamRegistry
    ) throws -> RouteAction {
        switch route.type {
        case .fileServe:
            let dir = absolute(route.dirPath ?? "", base: baseDirectory)
            guard let real = FileServer.realPath(dir) else {
                throw ConfigError("\(path).dir_path", "\"\(route.dirPath ?? "")\" does not exist (resolved to \(dir))")
            }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: real, isDirectory: &isDir), isDir.boolValue else {
                throw ConfigError("\(path).dir_path", "\"\(route.dirPath ?? "")\" is not a directory")
            }
            // The configured path, not `real`: a symlinked root is followed on every request.
            return .fileServe(FileServeRoute(
                root: dir, index: route.index, gzipEnable: route.gzipEnable, gzipLevel: route.gzipLevel,
                gzipMimeTypes: route.gzipMimeTypes,
                compression: CompressionPolicy(enabled: route.gzipEnable, extraTypes: route.gzipMimeTypes, minLength: route.gzipMinLength),
                gzipListing: route.gzipListing))
        case .redirect:
            return .redirect(status: route.httpStatusCode, location: route.redirectURL ?? "/")
        case .metrics:
            return .metrics(prometheus: route.metricsFormat == "prometheus")
        case .reverseProxy:
            let policy = LoadBalancing(rawValue: route.loadBalancing) ?? .roundRobin
            return .reverseProxy(ProxyRoute(
                upstreams: route.upstreams, loadBalancing: route.loadBalancing, policy: policy, healthCheck: route.healthCheck,
                retries: route.retries, upstreamKeepalive: route.upstreamKeepalive, timeouts: timeouts,
                group: UpstreamGroup(upstreams: route.upstreams, policy: policy, registry: upstreams),
                gzip: route.gzipProxied ? CompressionPolicy(enabled: true, extraTypes: route.gzipMimeTypes, minLength: route.gzipMinLength) : nil,
                gzipLevel: route.gzipLevel))
        }
    }

    static func absolute(_ path: String, base: String) -> String {
        if path.hasPrefix("/") { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }
}
