import NIOCore

extension IPAddress {
    /// The address of an IPv4 or IPv6 socket address, from its bytes (a connection's peer: no
    /// text on the way, which cost an `inet_ntop`, its `sprintf` and a parse per connection);
    /// nil for a Unix domain socket.
    init?(_ socket: SocketAddress) {
        switch socket {
        case .v4(let a):
            self.init(ipv4: UInt32(bigEndian: a.address.sin_addr.s_addr))
        case .v6(let a):
            let (high, low) = withUnsafeBytes(of: a.address.sin6_addr) { raw in
                (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            self.init(high: high, low: low)
        case .unixDomainSocket:
            return nil
        }
    }
}
