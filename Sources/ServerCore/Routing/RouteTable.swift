#if canImport(Glibc)
import Glibc
#endif

/// A virtual server: the listeners it is bound to, its Host names, and its routes.
public struct VirtualServer: Sendable {
    public let listenerIDs: Set<Int>
    /// As configured; an empty list matches every Host.
    public let hostnames: [String]
    public let routes: RouteTable

    /// For a server that names hostnames (one without matches every Host: `Routing.server` takes
    /// it without asking for the Host). eXpServer matches the raw Host value exactly
    /// (`localhost:8001`); we also accept the host part without `:port`, case-insensitively, as
    /// nginx's `server_name` does.
    func matches(host: Substring?) -> Bool {
        guard let host else { return false }
        let bare = Routing.hostWithoutPort(host)
        for name in hostnames {
            if host.elementsEqual(name) { return true }
            if bare.count == name.utf8.count && bare.lowercased() == name.lowercased() { return true }
        }
        return false
    }
}

/// Server selection: the first server (config order) bound to the listener whose hostnames match.
public struct Routing: Sendable {
    public let servers: [VirtualServer]
    /// listener id → indices of the servers bound to it, in config order.
    let serversByListener: [[Int]]

    init(servers: [VirtualServer], listenerCount: Int) {
        self.servers = servers
        var table = Array(repeating: [Int](), count: listenerCount)
        for (i, s) in servers.enumerated() {
            for id in s.listenerIDs.sorted() { table[id].append(i) }
        }
        self.serversByListener = table
    }

    /// (`host` is only asked for when a server bound to the listener names hostnames.)
    public func server(listener: Int, host: () -> Substring?) -> VirtualServer? {
        guard listener >= 0 && listener < serversByListener.count else { return nil }
        var asked: Substring??
        for i in serversByListener[listener] {
            if servers[i].hostnames.isEmpty { return servers[i] }
            if asked == nil { asked = .some(host()) }
            if servers[i].matches(host: asked!) { return servers[i] }
        }
        return nil
    }

    static func hostWithoutPort(_ host: Substring) -> Substring {
        if host.hasPrefix("[") {  // [v6]:port
            if let close = host.firstIndex(of: "]") { return host[host.startIndex...close] }
            return host
        }
        if let colon = host.lastIndex(of: ":") { return host[..<colon] }
        return host
    }
}

/// Route selection by longest `req_path` prefix with eXpServer's boundary rule: the prefix matches
/// when the pathname starts with it byte for byte **and** either the prefix ends in `/` or the next
/// pathname character is the end or `/` (so `/api` matches `/api` and `/api/x`, not `/api2`).
/// Ties go to the route listed first.
public struct RouteTable: Sendable {
    /// Routes ordered by descending prefix length, then config order, so the first match wins.
    let ordered: [CompiledRoute]

    public init(_ routes: [CompiledRoute]) {
        ordered = routes.sorted {
            $0.reqPath.utf8.count != $1.reqPath.utf8.count
                ? $0.reqPath.utf8.count > $1.reqPath.utf8.count : $0.order < $1.order
        }
    }

    public var isEmpty: Bool { ordered.isEmpty }

    public func route(for pathname: String) -> CompiledRoute? {
        if let found = pathname.utf8.withContiguousStorageIfAvailable({ route(for: $0) }) { return found }
        return Array(pathname.utf8).withUnsafeBufferPointer { route(for: $0) }
    }

    private func route(for path: UnsafeBufferPointer<UInt8>) -> CompiledRoute? {
        for route in ordered {
            let matched = route.reqPath.utf8.withContiguousStorageIfAvailable { Self.matches(path, prefix: $0) }
                ?? Array(route.reqPath.utf8).withUnsafeBufferPointer { Self.matches(path, prefix: $0) }
            if matched { return route }
        }
        return nil
    }

    /// `prefix` is a prefix of `path` that ends at a boundary (see the type's comment).
    private static func matches(_ path: UnsafeBufferPointer<UInt8>, prefix: UnsafeBufferPointer<UInt8>) -> Bool {
        guard prefix.count <= path.count else { return false }
        if prefix.count > 0, let p = path.baseAddress, let q = prefix.baseAddress, memcmp(p, q, prefix.count) != 0 {
            return false
        }
        return prefix.last == UInt8(ascii: "/") || path.count == prefix.count || path[prefix.count] == UInt8(ascii: "/")
    }
}
