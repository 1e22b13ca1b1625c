import Foundation
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// A blocking HTTP client on a Unix-domain socket for control-plane tests: sends exact bytes
/// (malformed JSON, wrong methods, oversize bodies, pipelined requests) and reads responses
/// with `HTTPResult`, keeping bytes past one response for the next.
final class UnixClient {
    let fd: CInt
    private var pending: [UInt8] = []

    init(path: String, timeout: Int = 5) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError("socket failed: \(errno)") }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw TestError("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            let err = errno
            close(fd)
            throw TestError("connect to \(path) failed: \(String(cString: strerror(err)))")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestError("send failed: \(String(cString: strerror(errno)))") }
            off += n
        }
    }

    /// One Content-Length framed response.
    func readResponse() throws -> HTTPResult {
        var data = pending
        pending = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            if let parsed = HTTPResult.parse(data, complete: false) {
                pending = parsed.rest
                return parsed
            }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
            if n <= 0 {
                if let parsed = HTTPResult.parse(data, complete: true) { return parsed }
                throw TestError("connection ended before a full response (\(data.count) bytes)")
            }
            data.append(contentsOf: buf[..<n])
        }
    }

    /// True when the peer closes the connection before the receive timeout (nothing more to read).
    func closedByPeer() -> Bool {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    /// Sends one request (`Connection: close` unless `keepAlive`) and reads its response.
    static func exchange(_ path: String, _ method: String, _ target: String, body: [UInt8]? = nil,
                         keepAlive: Bool = false) throws -> HTTPResult {
        let client = try UnixClient(path: path)
        try client.send(request(method, target, body: body, keepAlive: keepAlive))
        return try client.readResponse()
    }

    static func request(_ method: String, _ target: String, body: [UInt8]? = nil, keepAlive: Bool = true) -> [UInt8] {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
        if !keepAlive { head += "Connection: close\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + (body ?? [])
    }
}

extension HTTPResult {
    /// The body decoded as `T` (control answers are JSON).
    func json<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body))
    }

    /// The body as a JSON object.
    var object: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }
}
