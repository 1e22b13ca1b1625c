import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A request body as it arrives: its length, whether it followed `FakeUpstream.pattern`
/// (checked at the ends of every piece, cheap enough for 100 MiB in a debug build), and its
/// first MiB.
final class BodySink {
    private(set) var count = 0
    private(set) var patternOK = true
    private(set) var kept: [UInt8] = []
    private var pauseAt: Int?
    private var onPause: (() -> Void)?

    /// Once `bytes` have come, `wait` runs (once) before the next read.
    func pause(after bytes: Int, _ wait: @escaping () -> Void) {
        pauseAt = bytes
        onPause = wait
    }

    func take(_ piece: UnsafeRawBufferPointer) {
        guard !piece.isEmpty else { return }
        if piece[0] != FakeUpstream.pattern(count) || piece[piece.count - 1] != FakeUpstream.pattern(count + piece.count - 1) {
            patternOK = false
        }
        if kept.count < 1 << 20 { kept.append(contentsOf: piece.prefix((1 << 20) - kept.count)) }
        count += piece.count
        if let at = pauseAt, count >= at {
            pauseAt = nil
            onPause?()
        }
    }
}

/// Buffered reads of HTTP/1.1 request heads and bodies from a blocking socket.
final class SocketReader {
    let fd: CInt
    private var buffer: [UInt8] = []
    private var start = 0
    private var scratch = [UInt8](repeating: 0, count: 65536)

    init(fd: CInt) { self.fd = fd }

    private var available: Int { buffer.count - start }

    /// One `recv` into the buffer; false at EOF or error.
    private func fill() -> Bool {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: scratch[..<n])
        return true
    }

    /// What is buffered, else what one `recv` brings; nil at EOF or error.
    func readSome() -> [UInt8]? {
        if available == 0 && !fill() { return nil }
        defer {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return Array(buffer[start...])
    }

    func readLine() throws -> String {
        while true {
            if let i = buffer[start...].firstIndex(of: 10) {
                var line = buffer[start..<i]
                if line.last == 13 { line = line.dropLast() }
                start = i + 1
                return String(decoding: line, as: UTF8.self)
            }
            guard fill() else { throw TestError("eof") }
        }
    }

    func readHead() throws -> FakeUpstream.Seen {
        var line = try readLine()
        while line.isEmpty { line = try readLine() }
        let parts = line.split(separator: " ")
        guard parts.count == 3 else { throw TestError("bad request line \(line)") }
        var headers: [(String, String)] = []
        while true {
            let h = try readLine()
            if h.isEmpty { break }
            guard let colon = h.firstIndex(of: ":") else { throw TestError("bad header \(h)") }
            headers.append((String(h[..<colon]), h[h.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return FakeUpstream.Seen(method: String(parts[0]), target: String(parts[1]), version: String(parts[2]), headers: headers)
    }

    /// Passes exactly `count` bytes to `sink`, straight from `recv` once the buffer is used up.
    func readExact(_ count: Int, into sink: BodySink) throws {
        var left = count
        while left > 0 {
            if available == 0 {
                buffer.removeAll(keepingCapacity: true)
                start = 0
                let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min(65536, left), 0) }
                guard n > 0 else { throw TestError("eof in body") }
                scratch.withUnsafeBytes { sink.take(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                left -= n
                continue
            }
            let n = min(left, available)
            buffer.withUnsafeBytes { sink.take(UnsafeRawBufferPointer(rebasing: $0[start..<start + n])) }
            start += n
            left -= n
        }
    }

    func readBody(_ head: FakeUpstream.Seen, into sink: BodySink) throws {
        if head.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try readLine()
                guard let size = Int((sizeLine.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw TestError("bad chunk size \(sizeLine)")
                }
                if size == 0 {
                    while try !readLine().isEmpty {}  // trailers
                    return
                }
                try readExact(size, into: sink)
                guard try readLine().isEmpty else { throw TestError("chunk not followed by CRLF") }
            }
        }
        if let length = head.header("content-length").flatMap(Int.init), length > 0 {
            try readExact(length, into: sink)
        }
    }
}
