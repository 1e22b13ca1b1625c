import Foundation
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// A blocking HTTP/1.x client that reads every response framing the proxy can produce:
/// Content-Length, chunked (decoded, and reported as such) and close-delimited. Keeps bytes past
/// one response for the next, so one connection can carry several requests.
final class FramedClient {
    enum Framing: Equatable { case length, chunked, close }

    let raw: RawClient
    private var buffer: [UInt8] = []

    init(port: Int, source: String? = nil, timeout: Double = 10) throws {
        raw = try RawClient(port: port, source: source, timeout: timeout)
    }

    func send(_ text: String) throws { try raw.send(text) }
    func send(_ bytes: [UInt8]) throws { try raw.send(bytes) }

    /// One `recv` appended to the buffer; false at EOF, reset or timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, 65536, 0) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[..<n])
        return true
    }

    /// The status line and headers of the next response (its body not yet read).
    func readHead() throws -> HTTPResult {
        while true {
            if let end = HTTPResult.find(buffer, [13, 10, 13, 10]) {
                let head = Array(buffer[..<(end + 4)])
                buffer.removeFirst(end + 4)
                guard let r = HTTPResult.parse(head, headRequest: true, complete: true) else {
                    throw TestError("unparsable head: \(String(decoding: head, as: UTF8.self))")
                }
                return r
            }
            guard fill() else { throw TestError("connection ended before a response head (\(buffer.count) bytes)") }
        }
    }

    private func readLine() throws -> [UInt8] {
        while true {
            if let end = HTTPResult.find(buffer, [13, 10]) {
                let line = Array(buffer[..<end])
                buffer.removeFirst(end + 2)
                return line
            }
            guard fill() else { throw TestError("connection ended inside a chunked body") }
        }
    }

    func readExact(_ n: Int) throws -> [UInt8] {
        while buffer.count < n {
            guard fill() else { throw TestError("connection ended with \(buffer.count) of \(n) body bytes") }
        }
        let out = Array(buffer[..<n])
        buffer.removeFirst(n)
        return out
    }

    /// One whole response with its body decoded, and how it was framed.
    func readResponse(headRequest: Bool = false) throws -> (response: HTTPResult, framing: Framing) {
        var r = try readHead()
        if headRequest || r.status == 204 || r.status == 304 { return (r, .length) }
        if r.header("transfer-encoding")?.lowercased() == "chunked" {
            var body: [UInt8] = []
            while true {
                let line = String(decoding: try readLine(), as: UTF8.self)
                guard let size = Int((line.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw TestError("bad chunk size line \(line.debugDescription)")
                }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                body += try readExact(size)
                guard try readLine().isEmpty else { throw TestError("chunk data not followed by CRLF") }
            }
            r.body = body
            return (r, .chunked)
        }
        if let length = r.header("content-length").flatMap(Int.init) {
            r.body = try readExact(length)
            return (r, .length)
        }
        while fill() {}
        r.body = buffer
        buffer = []
        return (r, .close)
    }

    /// Reads a Content-Length body without keeping it: `piece` sees each part with its offset.
    /// Returns the number of body bytes read (short if the connection ended early).
    func streamBody(length: Int, _ piece: (_ offset: Int, _ bytes: UnsafeRawBufferPointer) -> Void) -> Int {
        var done = 0
        if !buffer.isEmpty {
            let n = min(buffer.count, length)
            buffer.withUnsafeBytes { piece(0, UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            buffer.removeFirst(n)
            done = n
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while done < length {
            let n = chunk.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, min(1 << 16, length - done), 0) }
            guard n > 0 else { break }
            chunk.withUnsafeBytes { piece(done, UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            done += n
        }
        return done
    }

    /// True when the server closes the connection (EOF or reset) before the receive timeout,
    /// with nothing more sent.
    func closedByPeer() -> Bool {
        guard buffer.isEmpty else { return false }
        var one = [UInt8](repeating: 0, count: 1)
        let n = one.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, 1, 0) }
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }
}

/// This process's resident set size (`VmRSS` in /proc/self/status), in bytes.
func residentMemoryBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) } ?? 0
    return kb * 1024
}
