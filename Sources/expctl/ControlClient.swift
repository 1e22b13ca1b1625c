import ControlProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Talks HTTP/1.1 to the daemon's control socket: one request per connection, blocking.
struct ControlClient {
    let socketPath: String
    var timeoutSeconds = 30

    struct Reply {
        var status: Int
        var body: Data
    }

    func request(_ method: ControlMethod, _ path: String, body: Data? = nil) throws -> Reply {
        let fd = try connectSocket()
        defer { close(fd) }
        var head = "\(method.rawValue) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: expctl\r\n"
        if let body {
            head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += Array(body) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw CLIError.transport("cannot send to \(socketPath): \(String(cString: strerror(errno)))") }
            offset += n
        }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
            if n == 0 { break }
            guard n > 0 else { throw CLIError.transport("no answer from \(socketPath): \(String(cString: strerror(errno)))") }
            response += buffer[..<n]
        }
        return try Self.parse(response)
    }

    private func connectSocket() throws -> CInt {
        switch UnixSocket.connect(path: socketPath) {
        case .success(let fd):
            var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            return fd
        case .failure(.pathTooLong):
            throw CLIError.usage("socket path is too long: \(socketPath)")
        case .failure(.system(let err)):
            switch err {
            case ENOENT, ECONNREFUSED:
                throw CLIError.notRunning("expserverd is not running (no daemon answers on \(socketPath))")
            case EACCES:
                throw CLIError.transport("permission denied on \(socketPath)")
            default:
                throw CLIError.transport("cannot connect to \(socketPath): \(String(cString: strerror(err)))")
            }
        }
    }

    static func parse(_ bytes: [UInt8]) throws -> Reply {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0...max(0, bytes.count - 4)).first(where: { bytes.count >= $0 + 4 && Array(bytes[$0..<$0 + 4]) == separator }) else {
            throw CLIError.transport("malformed answer from the daemon")
        }
        let statusLine = String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw CLIError.transport("malformed status line from the daemon") }
        return Reply(status: status, body: Data(bytes[(end + 4)...]))
    }
}

/// What can go wrong in expctl, each with its exit status.
enum CLIError: Error {
    case usage(String)
    case notRunning(String)
    case transport(String)
    case daemon(code: String, message: String)

    var message: String {
        switch self {
        case .usage(let m), .notRunning(let m), .transport(let m): return m
        case .daemon(_, let m): return m
        }
    }

    /// 1: the daemon refused or failed; 64: bad usage (as the argument parser); 3: no daemon / cannot talk to it.
    var exitCode: Int32 {
        switch self {
        case .daemon: return 1
        case .usage: return 64
        case .notRunning, .transport: return 3
        }
    }
}
