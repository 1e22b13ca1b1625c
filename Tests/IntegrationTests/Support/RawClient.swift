import Foundation
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// A blocking TCP client for tests: sends exact bytes and reads what comes back, so tests see
/// the server's bytes as the official tester does. Optionally binds a 127.0.0.x source address.
final class RawClient {
    let fd: CInt
    /// Bytes already received past the last response `readResponse` returned (pipelining).
    private var pending: [UInt8] = []

    init(port: Int, host: String = "127.0.0.1", source: String? = nil, timeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError("socket failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            let r = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard r == 0 else { close(fd); throw TestError("bind \(source) failed: \(errno)") }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else { close(fd); throw TestError("connect to \(port) failed: \(errno)") }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestError("send failed: \(errno)") }
            off += n
        }
    }

    /// One `recv`: what the first read returns (the tester parses only its first data chunk).
    func readChunk(max: Int = 1 << 20) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: max)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
        return n > 0 ? Array(buf[..<n]) : nil
    }

    /// Reads until the peer closes (`closed` true) or the receive timeout passes.
    func readAll() -> (bytes: [UInt8], closed: Bool) {
        var out = pending
        pending = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
            if n == 0 { return (out, true) }
            if n < 0 { return (out, false) }
            out.append(contentsOf: buf[..<n])
        }
    }

    /// Reads exactly one HTTP response (Content-Length framed, or until close). Bytes received
    /// past it are kept for the next `readResponse`/`readAll`, so pipelined responses can be read
    /// one after another.
    func readResponse(headRequest: Bool = false) throws -> HTTPResult {
        var data = pending
        pending = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            if let parsed = HTTPResult.parse(data, headRequest: headRequest, complete: false) {
                pending = parsed.rest
                return parsed
            }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
            if n <= 0 {
                if let parsed = HTTPResult.parse(data, headRequest: headRequest, complete: true) { return parsed }
                throw TestError("connection ended before a full response (\(data.count) bytes)")
            }
            data.append(contentsOf: buf[..<n])
        }
    }
}

/// A parsed HTTP response.
struct HTTPResult {
    var status: Int
    var statusLine: String
    var headers: [(String, String)]
    var body: [UInt8]
    /// Bytes after this response (pipelined responses).
    var rest: [UInt8] = []

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    var text: String { String(decoding: body, as: UTF8.self) }

    static func parse(_ data: [UInt8], headRequest: Bool = false, complete: Bool) -> HTTPResult? {
        guard let end = find(data, [13, 10, 13, 10]) else { return nil }
        let headText = String(decoding: data[..<end], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var r = HTTPResult(status: status, statusLine: statusLine, headers: headers, body: [])
        let bodyStart = end + 4
        if headRequest || status == 304 || status == 204 {
            r.rest = Array(data[bodyStart...])
            return r
        }
        if let cl = r.header("content-length").flatMap(Int.init) {
            guard data.count - bodyStart >= cl else { return nil }
            r.body = Array(data[bodyStart..<bodyStart + cl])
            r.rest = Array(data[(bodyStart + cl)...])
            return r
        }
        guard complete else { return nil }
        r.body = Array(data[bodyStart...])
        return r
    }

    static func find(_ data: [UInt8], _ needle: [UInt8]) -> Int? {
        guard data.count >= needle.count else { return nil }
        for i in 0...(data.count - needle.count) where data[i] == needle[0] {
            if Array(data[i..<i + needle.count]) == needle { return i }
        }
        return nil
    }
}


/// A port that was free a moment ago (bind to 0, read it, close).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}
