import ControlProtocol
import Foundation

/// Reading a route (its keys by type) and its upstreams.
extension XPSConfig {
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
        return Upstream(host: HostPort.canonicalHost(host), port: p, weight: weight, maxFails: maxFails, failTimeoutMs: failTimeout, backup: backup)
    }
}

/// Splits `host:port` and `[v6]:port`, and names upstreams one way whatever their spelling.
enum HostPort {
    /// An upstream's host as it is named (in `upstream list`, expctl, the state db, metrics): a
    /// name in lowercase (DNS names are case-insensitive), an IPv6 literal in RFC 5952's form;
    /// so `LOCALHOST` and `localhost`, `[0:0::1]` and `[::1]` are one upstream, with one health
    /// and admin state.
    static func canonicalHost(_ host: String) -> String {
        guard host.contains(":"), let address = IPAddress(host) else { return host.lowercased() }
        // (An IPv4-mapped address stays one: connected to over IPv6, as written.)
        return address.ipv4Value == nil ? address.description : "::ffff:\(address.description)"
    }

    /// `text` (`host:port`, `[v6]:port`) as `XPSConfig.Upstream.address` spells the same upstream;
    /// as it is if it is not an address.
    static func canonicalAddress(_ text: String) -> String {
        guard let (host, port) = split(text), let p = Int(port) else { return text }
        return XPSConfig.Upstream(host: canonicalHost(host), port: p, weight: 1).address
    }

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
