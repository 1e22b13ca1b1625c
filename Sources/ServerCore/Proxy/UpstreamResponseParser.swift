import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Parses an upstream's HTTP/1.x response straight from the bytes it sent, for relaying it: the
/// head becomes the client's head in one pass (status line and end-to-end header lines copied
/// as they are, hop-by-hop ones dropped, RFC 9110 §7.6.1), and the body comes out as slices of
/// the read buffers, never copied or turned into strings.
///
/// Framing (RFC 9112 §6.3): no body for HEAD, 1xx, 204 and 304; a final `chunked` transfer coding
/// is decoded (trailers are dropped); any other transfer coding is read until the connection
/// closes; otherwise `Content-Length` (several equal values are one; unequal ones are an error);
/// else until close. `Content-Length` is dropped when a transfer coding is present. Interim 1xx
/// responses are skipped; 101 is an error (the request's `Upgrade` was not forwarded).
///
/// Pull-style: `next` returns one event at a time, or nil when it needs more bytes. Pure value
/// type; `UpstreamHandler` feeds it.
struct UpstreamResponseParser {
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        case close
    }

    struct Head {
        var status: Int
        /// `HTTP/1.1 <status> <reason>\r\n` and the end-to-end header lines as the upstream sent
        /// them, each ending in CRLF; no blank line yet (the relay adds its own framing lines).
        var encoded: ByteBuffer
        var framing: Framing
        /// The upstream connection may carry another request after this response.
        var keepAlive: Bool
        /// The upstream sent `Connection: close`.
        var closeRequested: Bool
        /// Where the header lines start in `encoded` (after the status line).
        var headerStart: Int
    }

    enum Event {
        case head(Head)
        case body(ByteBuffer)
        case end
    }

    enum ParseError: Error, Equatable {
        case malformedHead
        case headTooLarge
        case badContentLength
        case badChunk
        case unexpectedStatus
        case truncated
    }

    static let maxHead = 64 * 1024
    static let maxLine = 8 * 1024

    private enum State {
        case head
        case length(Int)
        case chunkSize
        case chunkData(Int)
        case chunkDataEnd
        case trailer
        case close
        case done
    }

    private var state = State.head
    /// Bytes of an incomplete head or control line, kept across reads.
    private var pending: ByteBuffer?
    /// Where to resume looking for the end of the head in `pending`.
    private var scanFrom = 0
    private var noBody = false
    private var trailerBytes = 0
    /// Nothing of a response has arrived yet.
    private(set) var idle = true

    init(noBody: Bool = false) { self.noBody = noBody }

    /// Prepares for the next response on the same connection (`noBody`: it answers a HEAD).
    mutating func reset(noBody: Bool) {
        self = UpstreamResponseParser(noBody: noBody)
    }

    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// The next event from `buffer` (and bytes kept from earlier reads), or nil when more bytes
    /// are needed (or the response is complete: the rest of `buffer` is not this response's).
    mutating func next(_ buffer: inout ByteBuffer) throws -> Event? {
        while true {
            switch state {
            case .head:
                guard buffer.readableBytes > 0 || pending != nil else { return nil }
                idle = false
                guard let head = try parseHead(&buffer) else { return nil }
                if head.status >= 100 && head.status < 200 { continue }  // interim: wait for the final one
                switch head.framing {
                case .none: state = .length(0)
                case .length(let n): state = .length(n)
                case .chunked: state = .chunkSize
                case .close: state = .close
                }
                return .head(head)
            case .length(let remaining):
                if remaining == 0 {
                    state = .done
                    return .end
                }
                guard buffer.readableBytes > 0 else { return nil }
                let n = min(remaining, buffer.readableBytes)
                state = .length(remaining - n)
                return .body(buffer.readSlice(length: n)!)
            case .close:
                guard buffer.readableBytes > 0 else { return nil }
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .chunkSize:
                guard let line = try takeLine(&buffer) else { return nil }
                let size = try Self.chunkSize(line)
                state = size == 0 ? .trailer : .chunkData(size)
            case .chunkData(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let n = min(remaining, buffer.readableBytes)
                state = n == remaining ? .chunkDataEnd : .chunkData(remaining - n)
                return .body(buffer.readSlice(length: n)!)
            case .chunkDataEnd:
                guard let line = try takeLine(&buffer) else { return nil }
                guard line.readableBytes == 0 else { throw ParseError.badChunk }
                state = .chunkSize
            case .trailer:
                guard let line = try takeLine(&buffer) else { return nil }
                if line.readableBytes == 0 {
                    state = .done
                    return .end
                }
                trailerBytes += line.readableBytes
                if trailerBytes > Self.maxHead { throw ParseError.headTooLarge }
            case .done:
                return nil
            }
        }
    }

    /// The upstream closed its side: the end of a close-delimited body; before any byte of a
    /// response, nil (the caller treats it as a failed attempt); anywhere else the response
    /// was cut short.
    mutating func endOfInput() throws -> Event? {
        switch state {
        case .close:
            state = .done
            return .end
        case .done:
            return nil
        case .head where idle:
            return nil
        default:
            throw ParseError.truncated
        }
    }

    // MARK: control lines

    /// One line (without its LF or CRLF), joined with what earlier reads left; nil if incomplete.
    private mutating func takeLine(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        let newline = buffer.withUnsafeReadableBytes { p -> Int? in
            guard let base = p.baseAddress, p.count > 0, let hit = memchr(base, 0x0A, p.count) else { return nil }
            return base.distance(to: UnsafeRawPointer(hit))
        }
        guard let newline else {
            var rest = buffer.readSlice(length: buffer.readableBytes)!
            if pending == nil { pending = rest } else { pending!.writeBuffer(&rest) }
            if pending!.readableBytes > Self.maxLine { throw ParseError.badChunk }
            return nil
        }
        var line = buffer.readSlice(length: newline)!
        buffer.moveReaderIndex(forwardBy: 1)
        if var joined = pending {
            joined.writeBuffer(&line)
            line = joined
            pending = nil
        }
        if line.readableBytes > Self.maxLine { throw ParseError.badChunk }
        if line.readableBytes > 0, line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == 0x0D {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        return line
    }

    /// A chunk-size line: hex digits, then optional extensions (`;...`), ignored.
    static func chunkSize(_ line: ByteBuffer) throws -> Int {
        var size = 0
        var digits = 0
        for byte in line.readableBytesView {
            let v: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = Int(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = Int(byte - UInt8(ascii: "A") + 10)
            case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"):
                guard digits > 0 else { throw ParseError.badChunk }
                return size
            default:
                throw ParseError.badChunk
            }
            digits += 1
            guard digits <= 15 else { throw ParseError.badChunk }
            size = size << 4 | v
        }
        guard digits > 0 else { throw ParseError.badChunk }
        return size
    }

    // MARK: the head

    /// The head if it is complete (consumed from `buffer`), else nil (bytes kept in `pending`).
    private mutating func parseHead(_ buffer: inout ByteBuffer) throws -> Head? {
        if pending == nil {
            // Common case: the whole head is in this read; parse it in place.
            let end = buffer.withUnsafeReadableBytes { Self.headEnd($0, from: 0) }
            if let end {
                guard end <= Self.maxHead else { throw ParseError.headTooLarge }
                let head = try buffer.withUnsafeReadableBytes { try makeHead(UnsafeRawBufferPointer(rebasing: $0[..<end])) }
                buffer.moveReaderIndex(forwardBy: end)
                return head
            }
            pending = buffer.readSlice(length: buffer.readableBytes)!
            scanFrom = 0
        } else {
            var more = buffer.readSlice(length: buffer.readableBytes)!
            pending!.writeBuffer(&more)
        }
        let kept = pending!
        guard let end = kept.withUnsafeReadableBytes({ Self.headEnd($0, from: scanFrom) }) else {
            guard kept.readableBytes <= Self.maxHead else { throw ParseError.headTooLarge }
            scanFrom = max(0, kept.readableBytes - 3)
            return nil
        }
        guard end <= Self.maxHead else { throw ParseError.headTooLarge }
        let head = try kept.withUnsafeReadableBytes { try makeHead(UnsafeRawBufferPointer(rebasing: $0[..<end])) }
        // Bytes after the head (body) go back in front of the caller's buffer.
        var rest = kept.getSlice(at: kept.readerIndex + end, length: kept.readableBytes - end)!
        pending = nil
        scanFrom = 0
        buffer = rest.readSlice(length: rest.readableBytes)!
        return head
    }

    /// The index just past the blank line that ends a head (`\n\n` or `\n\r\n`), if present.
    static func headEnd(_ p: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = p.baseAddress else { return nil }
        var i = from
        while i < p.count {
            guard let hit = memchr(base + i, 0x0A, p.count - i) else { return nil }
            let k = base.distance(to: UnsafeRawPointer(hit))
            if k + 1 < p.count && p[k + 1] == 0x0A { return k + 2 }
            if k + 2 < p.count && p[k + 1] == 0x0D && p[k + 2] == 0x0A { return k + 3 }
            i = k + 1
        }
        return nil
    }

    /// What one header line is to the relay: the forwarding fields are plain end-to-end fields
    /// in a response.
    private static func kind(_ name: UnsafeRawBufferPointer) -> HeaderName.Kind {
        switch HeaderName.kind(name) {
        case .forwardedFor, .forwardedProto: return .endToEnd
        case let kind: return kind
        }
    }

    /// One header line split up: name, value (without surrounding whitespace), the whole line
    /// (without its line end).
    private struct Line {
        var name: UnsafeRawBufferPointer
        var value: UnsafeRawBufferPointer
        var whole: UnsafeRawBufferPointer
    }

    /// Calls `body` for each header line of `head` (the status line skipped); throws on a line
    /// that is not `token ":" value` (obsolete line folding included) or that holds a CR or NUL.
    private static func forEachLine(_ head: UnsafeRawBufferPointer, from start: Int, _ body: (Line) throws -> Void) throws {
        let base = head.baseAddress!
        var i = start
        while i < head.count {
            let hit = memchr(base + i, 0x0A, head.count - i)!
            var end = base.distance(to: UnsafeRawPointer(hit))
            let next = end + 1
            if end > i && head[end - 1] == 0x0D { end -= 1 }
            if end == i { return }  // the blank line
            let line = UnsafeRawBufferPointer(rebasing: head[i..<end])
            guard let colonAt = memchr(line.baseAddress!, 0x3A, line.count) else { throw ParseError.malformedHead }
            let colon = line.baseAddress!.distance(to: UnsafeRawPointer(colonAt))
            guard colon > 0 else { throw ParseError.malformedHead }
            for j in 0..<colon where !HeaderName.isTokenByte(line[j]) { throw ParseError.malformedHead }
            var vs = colon + 1
            var ve = line.count
            while vs < ve && (line[vs] == 0x20 || line[vs] == 0x09) { vs += 1 }
            while ve > vs && (line[ve - 1] == 0x20 || line[ve - 1] == 0x09) { ve -= 1 }
            let value = UnsafeRawBufferPointer(rebasing: line[vs..<ve])
            if let v = value.baseAddress, memchr(v, 0x0D, value.count) != nil || memchr(v, 0, value.count) != nil {
                throw ParseError.malformedHead
            }
            try body(Line(name: UnsafeRawBufferPointer(rebasing: line[..<colon]), value: value, whole: line))
            i = next
        }
    }

    private func makeHead(_ head: UnsafeRawBufferPointer) throws -> Head {
        // Status line: HTTP/1.x SP 3DIGIT [SP reason]
        let base = head.baseAddress!
        let lineEnd = base.distance(to: UnsafeRawPointer(memchr(base, 0x0A, head.count)!))
        var statusEnd = lineEnd
        if statusEnd > 0 && head[statusEnd - 1] == 0x0D { statusEnd -= 1 }
        guard statusEnd >= 12, HeaderName.equals(UnsafeRawBufferPointer(rebasing: head[0..<7]), "http/1."),
            head[7] >= UInt8(ascii: "0"), head[7] <= UInt8(ascii: "9"), head[8] == 0x20,
            head[9...11].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            statusEnd == 12 || head[12] == 0x20
        else { throw ParseError.malformedHead }
        let minor = Int(head[7] - UInt8(ascii: "0"))
        let status = Int(head[9] - 48) * 100 + Int(head[10] - 48) * 10 + Int(head[11] - 48)
        guard status >= 100, status != 101 else { throw ParseError.unexpectedStatus }
        let reason = UnsafeRawBufferPointer(rebasing: head[8..<statusEnd])
        if reason.contains(where: { $0 == 0x0D || $0 == 0 }) { throw ParseError.malformedHead }

        // One pass: framing and connection management, and the client's head written as it goes.
        var closeRequested = false
        var keepAliveRequested = false
        var named: [[UInt8]] = []  // other fields `Connection` names (rare)
        var transferCoded = false
        var chunkedLast = false
        var length: Int?
        var out = ByteBufferAllocator().buffer(capacity: head.count + 16)
        out.writeStaticString("HTTP/1.1")
        out.writeBytes(reason)
        out.writeStaticString("\r\n")
        let headerStart = out.writerIndex
        var lengthWritten = false
        try Self.forEachLine(head, from: lineEnd + 1) { line in
            let kind = Self.kind(line.name)
            switch kind {
            case .connection:
                Self.forEachToken(line.value) { token in
                    if HeaderName.equals(token, "close") {
                        closeRequested = true
                    } else if HeaderName.equals(token, "keep-alive") {
                        keepAliveRequested = true
                    } else if Self.kind(token) == .endToEnd || Self.kind(token) == .contentLength {
                        named.append(Array(token))
                    }
                }
            case .transferEncoding:
                transferCoded = true
                Self.forEachToken(line.value) { token in chunkedLast = HeaderName.equals(token, "chunked") }
            case .contentLength:
                var ok = true
                Self.forEachToken(line.value) { token in
                    guard ok, let n = Self.decimal(token), length == nil || length == n else {
                        ok = false
                        return
                    }
                    length = n
                }
                guard ok, length != nil else { throw ParseError.badContentLength }
            case .endToEnd, .hopByHop, .forwardedFor, .forwardedProto:
                break
            }
            // End-to-end lines as they are; a length once.
            if kind == .endToEnd || (kind == .contentLength && !lengthWritten) {
                if kind == .contentLength { lengthWritten = true }
                out.writeBytes(line.whole)
                out.writeStaticString("\r\n")
            }
        }
        // Rare: something found later changes what is relayed (fields that `Connection` names, a
        // length beside a transfer coding, which changes the framing): write the lines again.
        if !named.isEmpty || (transferCoded && lengthWritten) {
            out.moveWriterIndex(to: headerStart)
            var lengthRelayed = false
            try Self.forEachLine(head, from: lineEnd + 1) { line in
                switch Self.kind(line.name) {
                case .hopByHop, .connection, .transferEncoding:
                    return
                case .contentLength:
                    guard !transferCoded, !lengthRelayed else { return }
                    lengthRelayed = true
                case .endToEnd, .forwardedFor, .forwardedProto:
                    if named.contains(where: { HeaderName.equals(line.name, $0) }) { return }
                }
                out.writeBytes(line.whole)
                out.writeStaticString("\r\n")
            }
        }

        let noBody = self.noBody || status < 200 || status == 204 || status == 304
        let framing: Framing
        if noBody {
            framing = .none
        } else if transferCoded {
            framing = chunkedLast ? .chunked : .close
        } else if let length {
            framing = .length(length)
        } else {
            framing = .close
        }
        let keepAlive = framing != .close && (minor >= 1 ? !closeRequested : keepAliveRequested && !closeRequested)

        return Head(
            status: status, encoded: out, framing: framing, keepAlive: keepAlive, closeRequested: closeRequested,
            headerStart: headerStart)
    }

    /// Calls `body` with each comma-separated element of a header value, whitespace trimmed,
    /// empty ones skipped.
    static func forEachToken(_ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count && value[end] != UInt8(ascii: ",") { end += 1 }
            var s = start, e = end
            while s < e && (value[s] == 0x20 || value[s] == 0x09) { s += 1 }
            while e > s && (value[e - 1] == 0x20 || value[e - 1] == 0x09) { e -= 1 }
            if e > s { body(UnsafeRawBufferPointer(rebasing: value[s..<e])) }
            start = end + 1
        }
    }

    /// A non-negative decimal (at most 18 digits), or nil.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count > 0, bytes.count <= 18 else { return nil }
        var n = 0
        for b in bytes {
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(b - UInt8(ascii: "0"))
        }
        return n
    }
}

extension UpstreamResponseParser.Head {
    /// The relayed header lines as (name, value) strings (gzip decisions, tests).
    func lines() -> [(name: String, value: String)] {
        let text = String(decoding: encoded.readableBytesView.dropFirst(headerStart - encoded.readerIndex), as: UTF8.self)
        return text.split(separator: "\r\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...].trimmingSpaces()))
        }
    }

    /// Drops every header line named `name` (gzip_proxied drops `Content-Length`).
    mutating func remove(_ name: String) {
        var out = ByteBufferAllocator().buffer(capacity: encoded.readableBytes + 96)
        out.writeBytes(encoded.readableBytesView.prefix(headerStart - encoded.readerIndex))
        for line in lines() where line.name.lowercased() != name.lowercased() {
            out.writeString("\(line.name): \(line.value)\r\n")
        }
        encoded = out
    }
}
