#if canImport(Glibc)
import Glibc
#endif

/// HTTP/1.x head syntax on raw bytes (RFC 9112 §2–5, RFC 9110 §5), shared by the client's
/// requests (`RequestHeadParser`) and the upstream's responses (`UpstreamResponseParser`).
/// Lines end in CRLF or a bare LF.
enum HTTPSyntax {
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

    /// Where the first line of `p` ends (its LF), if it has ended.
    static func lineEnd(_ p: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        guard let base = p.baseAddress, from < p.count, let hit = memchr(base + from, 0x0A, p.count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    /// One header line split up: name, value (without surrounding whitespace), the whole line
    /// (without its line end).
    struct Line {
        var name: UnsafeRawBufferPointer
        var value: UnsafeRawBufferPointer
        var whole: UnsafeRawBufferPointer
    }

    /// How a walk over header lines (`walkLines`) ended.
    enum LineWalk: Equatable {
        /// At the blank line; the index just past it (the head's end).
        case end(Int)
        /// The bytes ran out before the blank line (`atLineStart`: between two lines, not
        /// inside one): the head has not all arrived.
        case ranOut(atLineStart: Bool)
        /// A line that is not `token ":" value`, or whose value holds a CR or a NUL.
        case malformed
    }

    /// Calls `body` for each header line of `head` from `start` up to the blank line. Returns false
    /// (having stopped) at a line that is not `token ":" value` (obsolete line folding included)
    /// or whose value holds a CR or a NUL (RFC 9110 §5.5; other bytes pass, as with nginx), and
    /// at bytes that end inside a line.
    static func forEachLine(_ head: UnsafeRawBufferPointer, from start: Int, _ body: (Line) throws -> Void) rethrows -> Bool {
        switch try walkLines(head, from: start, body) {
        case .end: return true
        case .ranOut(let atLineStart): return atLineStart
        case .malformed: return false
        }
    }

    /// `forEachLine`, telling where the head ends and a head that has not all arrived from a
    /// malformed one, so a parser can walk bytes whose end it has not looked for first.
    ///
    /// One pass per line: the name's token bytes up to the colon, then the value up to the first
    /// LF, CR or NUL (`stopByte`, eight bytes at a time), which is the line's end when it is an LF
    /// or a CR before one, and malformed otherwise.
    static func walkLines(_ head: UnsafeRawBufferPointer, from start: Int, _ body: (Line) throws -> Void) rethrows -> LineWalk {
        guard let base = head.baseAddress else { return .ranOut(atLineStart: true) }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let count = head.count
        var i = start
        while i < count {
            // The blank line.
            if bytes[i] == 0x0A { return .end(i + 1) }
            if bytes[i] == 0x0D {
                guard i + 1 < count else { return .ranOut(atLineStart: false) }
                return bytes[i + 1] == 0x0A ? .end(i + 2) : .malformed
            }
            // The name: token bytes up to the colon (a line without one, or with anything else
            // before it, stops here).
            var colon = i
            while colon < count && HeaderName.isTokenByte(bytes[colon]) { colon += 1 }
            guard colon < count else { return .ranOut(atLineStart: false) }
            guard colon > i, bytes[colon] == UInt8(ascii: ":") else { return .malformed }
            var vs = colon + 1
            while vs < count && (bytes[vs] == 0x20 || bytes[vs] == 0x09) { vs += 1 }
            guard let end = stopByte(base, from: vs, count) else { return .ranOut(atLineStart: false) }
            let next: Int
            if bytes[end] == 0x0A {
                next = end + 1
            } else if bytes[end] == 0x0D && end + 1 == count {
                return .ranOut(atLineStart: false)
            } else if bytes[end] == 0x0D && bytes[end + 1] == 0x0A {
                next = end + 2
            } else {
                return .malformed  // a NUL, or a CR not ending the line
            }
            var ve = end
            while ve > vs && (bytes[ve - 1] == 0x20 || bytes[ve - 1] == 0x09) { ve -= 1 }
            try body(Line(
                name: UnsafeRawBufferPointer(start: base + i, count: colon - i),
                value: UnsafeRawBufferPointer(start: base + vs, count: ve - vs),
                whole: UnsafeRawBufferPointer(start: base + i, count: end - i)))
            i = next
        }
        return .ranOut(atLineStart: true)
    }

    /// The index of the first LF, CR or NUL in `p[from..<count]`, if any: eight bytes at a time (a
    /// word's lowest zero byte is the lowest byte flagged by `(x - 0x01…) & ~x & 0x80…`; LF and CR
    /// bytes are zero in `x ^ 0x0A…` and `x ^ 0x0D…`), the rest byte by byte.
    @inline(__always)
    static func stopByte(_ p: UnsafeRawPointer, from: Int, _ count: Int) -> Int? {
        @inline(__always) func zeros(_ x: UInt64) -> UInt64 {
            (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
        }
        var i = from
        while i + 8 <= count {
            let x = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let hits = zeros(x) | zeros(x ^ 0x0A0A_0A0A_0A0A_0A0A) | zeros(x ^ 0x0D0D_0D0D_0D0D_0D0D)
            if hits != 0 { return i + hits.trailingZeroBitCount >> 3 }
            i += 8
        }
        while i < count {
            let b = p.load(fromByteOffset: i, as: UInt8.self)
            if b == 0x0A || b == 0x0D || b == 0 { return i }
            i += 1
        }
        return nil
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

    /// A `Transfer-Encoding` value is `chunked` alone: a list whose one member is `chunked`, in
    /// any case (`chunked, chunked` applies it twice, which is not allowed; RFC 9112 §7).
    static func isOnlyChunked(_ value: UnsafeRawBufferPointer) -> Bool {
        if HeaderName.equals(value, "chunked") { return true }  // the usual value whole
        var members = 0
        var chunked = false
        forEachToken(value) {
            members += 1
            chunked = HeaderName.equals($0, "chunked")
        }
        return members == 1 && chunked
    }
}
