import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct E2EError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A 127.0.0.1 port that was free a moment ago (bind port 0, read it, release it).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = loopback(port: 0)
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

func loopback(port: Int) -> sockaddr_in {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
    return addr
}

/// A connected TCP socket to 127.0.0.1:`port`, or nil when nothing accepts.
func connectTCP(port: Int, timeout: Int = 5) -> CInt? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var tv = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = loopback(port: port)
    let r = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if r != 0 { close(fd); return nil }
    return fd
}

func portAccepts(_ port: Int) -> Bool {
    guard let fd = connectTCP(port: port) else { return false }
    close(fd)
    return true
}

/// `GET path` with `Connection: close`; the status code and body (everything after the head).
func httpGet(port: Int, path: String) throws -> (status: Int, body: String) {
    guard let fd = connectTCP(port: port) else { throw E2EError("nothing accepts on 127.0.0.1:\(port)") }
    defer { close(fd) }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    guard sent == request.count else { throw E2EError("send failed") }
    var data = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
        if n <= 0 { break }
        data += buf[..<n]
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let headEnd = text.range(of: "\r\n\r\n") else { throw E2EError("no HTTP response: \(text.prefix(100))") }
    let parts = text[..<headEnd.lowerBound].split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, let status = Int(parts[1]) else { throw E2EError("bad status line") }
    return (status, String(text[headEnd.upperBound...]))
}

/// Whether a Unix-domain socket at `path` accepts connections.
func unixSocketAnswers(_ path: String) -> Bool {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return false }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    let r = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    return r == 0
}

/// Holds a 127.0.0.1 port in LISTEN state so a daemon cannot bind it.
final class PortHolder {
    let fd: CInt
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = loopback(port: port)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0, listen(fd, 4) == 0 else { close(fd); throw E2EError("cannot hold port \(port): \(errno)") }
    }
    deinit { close(fd) }
}

/// A Unix socket at `path` that listens but never accepts, its backlog filled: what a hung
/// daemon's control socket looks like to a new connection (connect would block).
final class FullBacklogSocket {
    let fd: CInt
    private var queued: [CInt] = []

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = Self.address(path)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0, listen(fd, 0) == 0 else { close(fd); throw E2EError("cannot listen on \(path): \(errno)") }
        // Non-blocking connects queue until the backlog is full (EAGAIN).
        for _ in 0..<64 {
            let c = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
            var a = Self.address(path)
            let r = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if r != 0 {
                let err = errno
                close(c)
                guard err == EAGAIN else { throw E2EError("connect to \(path) failed: \(err)") }
                return
            }
            queued.append(c)
        }
        throw E2EError("the backlog of \(path) never filled")
    }

    static func address(_ path: String) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        return addr
    }

    deinit {
        for c in queued { close(c) }
        close(fd)
    }
}
