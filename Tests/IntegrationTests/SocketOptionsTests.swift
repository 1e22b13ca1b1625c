import Foundation
import XCTest

@testable import ServerCore
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// TCP_NODELAY is on for client connections and upstream connections (NIO's bootstraps set it:
/// accepted sockets inherit it from the listener) and SO_DEBUG is not, read back from the
/// sockets themselves (the server runs in this process). TCP_NODELAY used to be set again at the
/// socket level, where option 1 is SO_DEBUG: as root that set SO_DEBUG, as anyone else it failed
/// every connection.
final class SocketOptionsTests: ProxyTestCase {
    /// The IPv4 TCP sockets of this process: (local port, peer port, TCP_NODELAY, SO_DEBUG).
    func tcpSockets() -> [(local: Int, peer: Int, noDelay: Int32, debug: Int32)] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap { name -> (Int, Int, Int32, Int32)? in
            guard let fd = CInt(name) else { return nil }
            var local = sockaddr_in(), peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0, local.sin_family == sa_family_t(AF_INET) else { return nil }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let connected = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
            }
            guard connected == 0 else { return nil }
            func option(_ level: Int32, _ name: Int32) -> Int32 {
                var value: Int32 = -1
                var size = socklen_t(MemoryLayout<Int32>.size)
                return getsockopt(fd, level, name, &value, &size) == 0 ? value : -1
            }
            return (Int(UInt16(bigEndian: local.sin_port)), Int(UInt16(bigEndian: peer.sin_port)),
                    option(Int32(IPPROTO_TCP), TCP_NODELAY), option(SOL_SOCKET, SO_DEBUG))
        }
    }

    func testClientAndUpstreamSocketsHaveNoDelay() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        try client.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(try client.readResponse().response.status, 200)
        let sockets = tcpSockets()
        let accepted = sockets.filter { $0.local == s.port }
        let upstream = sockets.filter { $0.peer == ups[0].port }  // (the proxy's side; the fake's has it as local)
        XCTAssertEqual(accepted.count, 1)
        XCTAssertEqual(upstream.count, 1)
        for socket in accepted + upstream {
            XCTAssertNotEqual(socket.noDelay, 0, "TCP_NODELAY on \(socket)")
            XCTAssertEqual(socket.debug, 0, "SO_DEBUG on \(socket)")
        }
    }
}
