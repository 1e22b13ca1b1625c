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

    /// Calls `body` for each header line of `head` from `start` up to the blank line. Returns false
    /// (having stopped) at a line that is not `token ":" value` (obsolete line folding included)
    /// or whose value holds a CR or a NUL (RFC 9110 §5.5; other bytes pass, as with nginx).
    static func forEachLine(_ head: UnsafeRawBufferPointer, from start: Int, _ body: (Line) throws -> Void) rethrows -> Bool {
        guard let base = head.baseAddress else { return true }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var i = start
        while i < head.count {
            guard let hit = memchr(base + i, 0x0A, head.count - i) else { return false }
            var end = base.distance(to: UnsafeRawPointer(hit))
            let next = end + 1
            if end > i && bytes[end - 1] == 0x0D { end -= 1 }
            if end == i { return true }  // the blank line
            // The name: token bytes up to the colon (a line without one, or with anything else
            // before it, stops here).
            var colon = i
            while colon < end && HeaderName.isTokenByte(bytes[colon]) { colon += 1 }
            guard colon > i, colon < end, bytes[colon] == UInt8(ascii: ":") else { return false }
            var vs = colon + 1
            var ve = end
            while vs < ve && (bytes[vs] == 0x20 || bytes[vs] == 0x09) { vs += 1 }
            while ve > vs && (bytes[ve - 1] == 0x20 || bytes[ve - 1] == 0x09) { ve -= 1 }
            if containsCROrNUL(base + vs, ve - vs) { return false }
            try body(Line(
                name: UnsafeRawBufferPointer(start: base + i, count: colon - i),
                value: UnsafeRawBufferPointer(start: base + vs, count: ve - vs),
                whole: UnsafeRawBufferPointer(start: base + i, count: end - i)))
            i = next
        }
        return true
    }

    /// Whether `count` bytes at `p` hold a CR or a NUL: eight bytes at a time (a word has a zero
    /// byte iff `(x - 0x01…) & ~x & 0x80…` is not zero; CR bytes are zero in `x ^ 0x0D…`), the
    /// last word overlapping the one before; short values byte by byte.
    @inline(__always)
    static func containsCROrNUL(_ p: UnsafeRawPointer, _ count: Int) -> Bool {
        if count < 8 {
            var i = 0
            while i < count {
                let b = p.load(fromByteOffset: i, as: UInt8.self)
                if b == 0x0D || b == 0 { return true }
                i += 1
            }
            return false
        }
        @inline(__always) func hit(_ x: UInt64) -> Bool {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let y = x ^ 0x0D0D_0D0D_0D0D_0D0D
            return ((x &- ones) & ~x | (y &- ones) & ~y) & 0x8080_8080_8080_8080 != 0
        }
        var i = 0
        while i + 8 < count {
            if hit(p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { return true }
            i += 8
        }
        return hit(p.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
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

    /// The final transfer coding of a `Transfer-Encoding` value is `chunked`.
    static func endsChunked(_ value: UnsafeRawBufferPointer) -> Bool {
        var last = false
        forEachToken(value) { last = HeaderName.equals($0, "chunked") }
        return last
    }
}
