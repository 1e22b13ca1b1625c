/// Which address a request comes from. Without trusted proxies it is the TCP peer. When the
/// peer is a trusted proxy (`acl.trusted_proxies`), `X-Forwarded-For` is read from the right:
/// the first hop that is not itself trusted is the client (a client cannot forge its way past
/// the proxies, since only the hops the proxies appended are believed). A malformed hop ends the
/// walk at the last trusted address. From an untrusted peer the header is ignored.
public enum ClientAddress {
    public static func resolve(peer: IPAddress, forwardedFor: [String], trusted: IPSet<Bool>) -> IPAddress {
        guard trusted.count > 0, trusted.longestMatch(peer) != nil else { return peer }
        var client = peer
        for header in forwardedFor.reversed() {
            for hop in header.split(separator: ",").reversed() {
                let text = hop.trimmingSpaces()
                guard let addr = IPAddress(text) else { return client }
                client = addr
                if trusted.longestMatch(addr) == nil { return addr }
            }
        }
        return client
    }
}
