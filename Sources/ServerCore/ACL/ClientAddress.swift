/// Which address a request comes from. Without trusted proxies it is the TCP peer. When the
/// peer is a trusted proxy (`acl.trusted_proxies`), `X-Forwarded-For` is read from the right:
/// the first hop that is not itself trusted is the client (a client cannot forge its way past
/// the proxies, since only the hops the proxies appended are believed). A hop may carry a port
/// and IPv6 brackets, as some proxies write them (`1.2.3.4:5678`, `[2001:db8::1]:443`; nginx's
/// realip and HAProxy read these too). A malformed hop ends the walk at the last trusted
/// address. From an untrusted peer the header is ignored.
public enum ClientAddress {
    public static func resolve(peer: IPAddress, forwardedFor: [String], trusted: IPSet<Bool>) -> IPAddress {
        guard trusted.count > 0, trusted.longestMatch(peer) != nil else { return peer }
        var client = peer
        for header in forwardedFor.reversed() {
            for hop in header.split(separator: ",").reversed() {
                guard let addr = address(hop.trimmingSpaces()) else { return client }
                client = addr
                if trusted.longestMatch(addr) == nil { return addr }
            }
        }
        return client
    }

    /// A hop's address: `a.b.c.d`, `a.b.c.d:port`, an IPv6 address, `[v6]` or `[v6]:port`.
    static func address(_ hop: Substring) -> IPAddress? {
        if let plain = IPAddress(hop) { return plain }
        func isPort(_ s: Substring) -> Bool { !s.isEmpty && s.count <= 5 && s.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        if hop.hasPrefix("[") {
            guard let close = hop.firstIndex(of: "]") else { return nil }
            let rest = hop[hop.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && isPort(rest.dropFirst())) else { return nil }
            let inner = hop[hop.index(after: hop.startIndex)..<close]
            guard inner.contains(":") else { return nil }  // (brackets are for IPv6)
            return IPAddress(inner)
        }
        // IPv4 with a port (an IPv6 address without brackets has more than one colon: parsed above).
        guard let colon = hop.firstIndex(of: ":"), hop[hop.index(after: colon)...].firstIndex(of: ":") == nil,
              isPort(hop[hop.index(after: colon)...]) else { return nil }
        let host = hop[..<colon]
        guard !host.contains(":"), let v4 = IPAddress(host), v4.ipv4Value != nil else { return nil }
        return v4
    }
}
