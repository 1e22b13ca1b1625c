import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Parses an upstream's HTTP/1.x response straight from the bytes it sent, for relaying it: the
/// head becomes the client's head in one pass (status line and end-to-end header lines copied
/// as they are, hop-by-hop ones dropped, RFC 9110 §7.6.1), and the body comes out as slices of
/// the read buffers, never copied or turned into strings.
///
/// Framing (RFC 9112 §6.3): no body for HEAD, 1xx, 204 and 304; `Transfer-Encoding: chunked` is
/// decoded (trailers are dropped); otherwise `Content-Length` (several equal values are one, and
/// reach the client as one `Content-Length: N` line, as HAProxy sends them: clients take a list
/// for a bad length (Go) or for none (Python reads to close); unequal ones are an error); else
/// until close. `Content-Length` is dropped when a transfer coding is present, and from a 204
/// (which must not carry one, RFC 9110 §8.6; nginx drops it too); such a response,
/// and an HTTP/1.0 one with a transfer coding, is relayed but its connection is not used again
/// (`Head.keepAlive`). Any transfer coding but `chunked` alone is an error (as in nginx 1.23 and
/// later): the request went without `TE`, so the upstream was asked for no other (RFC 9112
/// §7.4), and one the relay cannot undo would reach the client with nothing naming it. Interim
/// 1xx responses are skipped. 101 is an error unless the request offered to switch protocols
/// (`reset(upgrade:)`): then its `Upgrade` lines are relayed too, and everything after its head
/// is the new protocol's, relayed as it comes (`.body` events until the upstream closes).
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
        /// The upstream sent a `Date` (one without gets ours on the way: RFC 9110 §6.6.1).
        var dated = true
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
        /// A transfer coding other than `chunked` alone (a list, or on several lines).
        case badTransferCoding
        case badChunk
        case unexpectedStatus
        case truncated

        init(_ failure: BodyReader.Failure) {
            switch failure {
            case .badChunk: self = .badChunk
            case .trailersTooLarge: self = .headTooLarge
            case .truncated: self = .truncated
            }
        }
    }

    static let maxHead = 64 * 1024
    /// A read of at most this many bytes is parsed in one pass, before its head's end is known
    /// (the walk over the lines finds it); the buffer for the client's head is sized for the
    /// whole read, which this keeps small enough to be reused (`recycleLimit`).
    static let onePassLimit = 2048
    /// At most this much room for body bytes is left after an encoded head.
    static let spareLimit = 4096 + 16

    private enum State {
        case head
        case body
        case done
        /// After a 101: bytes as they come.
        case tunnel
    }

    private var state = State.head
    /// The body's reader, from the head on.
    private var body: BodyReader?
    /// Bytes of an incomplete head, kept across reads.
    private var pending: ByteBuffer?
    /// Where to resume looking for the end of the head in `pending`.
    private var scanFrom = 0
    private var noBody = false
    /// The request offered to switch protocols: a 101 is its answer.
    private var upgrade = false
    /// Nothing of a response has arrived yet.
    private(set) var idle = true
    /// Memory for the next head (`recycle`).
    private var headStorage = ByteBuffer()
    /// Head buffers up to this capacity are kept for reuse.
    static let recycleLimit = 8192

    init(noBody: Bool = false, upgrade: Bool = false) {
        self.noBody = noBody
        self.upgrade = upgrade
    }

    /// Prepares for the next response on the same connection (`noBody`: it answers a HEAD;
    /// `upgrade`: its request offered to switch protocols).
    @inline(__always)
    mutating func reset(noBody: Bool, upgrade: Bool = false) {
        let storage = headStorage  // kept across responses
        self = UpstreamResponseParser(noBody: noBody, upgrade: upgrade)
        headStorage = storage
    }

    /// Hands back a head's buffer (`Head.encoded`, with what was added to it) once it has been
    /// written to the client: the next head is written into the same memory if the write has
    /// released it by then, instead of into a new allocation per response. (Not while it is
    /// still being added to: a second holder would make each addition copy it.)
    mutating func recycle(_ buffer: ByteBuffer) {
        if buffer.capacity <= Self.recycleLimit { headStorage = buffer }
    }

    /// A buffer for the next head with room for `capacity` bytes: the recycled one when nothing
    /// else holds it any more, else new.
    private mutating func headBuffer(capacity: Int) -> ByteBuffer {
        var out = headStorage
        headStorage = ByteBuffer()
        out.clear(minimumCapacity: capacity)
        return out
    }

    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// The next event from `buffer` (and bytes kept from earlier reads), or nil when more bytes
    /// are needed (or the response is complete: the rest of `buffer` is not this response's).
    @inline(__always)  // (one caller per connection's read; a call would copy each event through witnesses)
    mutating func next(_ buffer: inout ByteBuffer) throws -> Event? {
        while true {
            switch state {
            case .head:
                guard buffer.readableBytes > 0 || pending != nil else { return nil }
                idle = false
                guard let head = try parseHead(&buffer) else { return nil }
                if head.status == 101 {  // (only when offered: makeHead refuses it otherwise)
                    state = .tunnel
                    return .head(head)
                }
                if head.status >= 100 && head.status < 200 { continue }  // interim: wait for the final one
                switch head.framing {
                case .none: body = BodyReader(.length(0), maxTrailerBytes: Self.maxHead)
                case .length(let n): body = BodyReader(.length(n), maxTrailerBytes: Self.maxHead)
                case .chunked: body = BodyReader(.chunked, maxTrailerBytes: Self.maxHead)
                case .close: body = BodyReader(.close, maxTrailerBytes: Self.maxHead)
                }
                state = .body
                return .head(head)
            case .body:
                do {
                    switch try body!.next(&buffer) {
                    case nil: return nil
                    case .body(let bytes): return .body(bytes)
                    case .end:
                        state = .done
                        body = nil
                        return .end
                    }
                } catch {
                    throw ParseError(error)
                }
            case .done:
                return nil
            case .tunnel:
                guard buffer.readableBytes > 0 else { return nil }
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            }
        }
    }

    /// The upstream closed its side: the end of a close-delimited body; before any byte of a
    /// response, nil (the caller treats it as a failed attempt); anywhere else the response
    /// was cut short.
    mutating func endOfInput() throws -> Event? {
        switch state {
        case .body:
            do {
                guard try body!.endOfInput() != nil else { return nil }
            } catch {
                throw ParseError(error)
            }
            state = .done
            body = nil
            return .end
        case .done:
            return nil
        case .tunnel:  // the tunnel's end
            state = .done
            return .end
        case .head where idle:
            return nil
        case .head:
            throw ParseError.truncated
        }
    }

    // MARK: the head

    /// The head if it is complete (consumed from `buffer`), else nil (bytes kept in `pending`).
    private mutating func parseHead(_ buffer: inout ByteBuffer) throws -> Head? {
        if pending == nil {
            // Common case: the whole head is in this read; parse it in place. A small read in
            // one pass (its end found by the walk); a larger one's end is looked for first.
            let readable = buffer.readableBytes
            if readable <= Self.onePassLimit {
                var out = headBuffer(capacity: Self.encodedCapacity(head: readable, spare: readable))
                if let (head, end) = try buffer.withUnsafeReadableBytes({ try makeHead($0, into: &out) }) {
                    buffer.moveReaderIndex(forwardBy: end)
                    return head
                }
                headStorage = out  // (unused: its memory serves the head once it is all here)
            } else if let end = buffer.withUnsafeReadableBytes({ HTTPSyntax.headEnd($0, from: 0) }) {
                guard end <= Self.maxHead else { throw ParseError.headTooLarge }
                var out = headBuffer(capacity: Self.encodedCapacity(head: end, spare: readable - end))
                let parsed = try buffer.withUnsafeReadableBytes { try makeHead(UnsafeRawBufferPointer(rebasing: $0[..<end]), into: &out) }
                guard let (head, _) = parsed else { throw ParseError.malformedHead }
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
        guard let end = kept.withUnsafeReadableBytes({ HTTPSyntax.headEnd($0, from: scanFrom) }) else {
            guard kept.readableBytes <= Self.maxHead else { throw ParseError.headTooLarge }
            scanFrom = max(0, kept.readableBytes - 3)
            return nil
        }
        guard end <= Self.maxHead else { throw ParseError.headTooLarge }
        var out = headBuffer(capacity: Self.encodedCapacity(head: end, spare: kept.readableBytes - end))
        let parsed = try kept.withUnsafeReadableBytes { try makeHead(UnsafeRawBufferPointer(rebasing: $0[..<end]), into: &out) }
        guard let (head, _) = parsed else { throw ParseError.malformedHead }
        // Bytes after the head (body) go back in front of the caller's buffer.
        var rest = kept.getSlice(at: kept.readerIndex + end, length: kept.readableBytes - end)!
        pending = nil
        scanFrom = 0
        buffer = rest.readSlice(length: rest.readableBytes)!
        return head
    }

    /// What one header line is to the relay: the forwarding fields are plain end-to-end fields
    /// in a response.
    private static func kind(_ name: UnsafeRawBufferPointer) -> HeaderName.Kind {
        switch HeaderName.kind(name) {
        case .forwardedFor, .forwardedProto: return .endToEnd
        case let kind: return kind
        }
    }

    /// The client's head is at most the upstream's plus a byte per line (a bare LF becomes CRLF;
    /// a line has at least 3 bytes). Room is left after it for the relay's own lines and, when
    /// small, for `spare`, the bytes that followed the head in its read: one buffer for the
    /// client's write.
    private static func encodedBound(head: Int) -> Int { head + head / 2 + 16 }

    private static func encodedCapacity(head: Int, spare: Int) -> Int {
        encodedBound(head: head) + 128 + min(spare, spareLimit)
    }

    /// The head at the start of `head` (which may hold more bytes after it) and its length, written
    /// into `out` (cleared, with room for `encodedCapacity(head: head.count, ...)`), which becomes
    /// the head's `encoded`; nil when the bytes end before the head does.
    private func makeHead(_ head: UnsafeRawBufferPointer, into out: inout ByteBuffer) throws -> (Head, Int)? {
        // Status line: HTTP/1.x SP 3DIGIT [SP reason]
        guard let base = head.baseAddress, let lf = memchr(base, 0x0A, head.count) else { return nil }
        let lineEnd = base.distance(to: UnsafeRawPointer(lf))
        var statusEnd = lineEnd
        if statusEnd > 0 && head[statusEnd - 1] == 0x0D { statusEnd -= 1 }
        guard statusEnd >= 12, HeaderName.equals(UnsafeRawBufferPointer(rebasing: head[0..<7]), "http/1."),
            head[7] >= UInt8(ascii: "0"), head[7] <= UInt8(ascii: "9"), head[8] == 0x20,
            head[9...11].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            statusEnd == 12 || head[12] == 0x20
        else { throw ParseError.malformedHead }
        let minor = Int(head[7] - UInt8(ascii: "0"))
        let status = Int(head[9] - 48) * 100 + Int(head[10] - 48) * 10 + Int(head[11] - 48)
        guard status >= 100, status != 101 || upgrade else { throw ParseError.unexpectedStatus }
        let switching = status == 101
        let reason = UnsafeRawBufferPointer(rebasing: head[8..<statusEnd])
        if reason.contains(where: { $0 == 0x0D || $0 == 0 }) { throw ParseError.malformedHead }

        // One pass: framing and connection management, and the client's head written as it goes.
        var closeRequested = false
        var keepAliveRequested = false
        var upgradeNamed = false  // (a 101 must say what it switches to, RFC 9110 §15.2.2)
        var dated = false
        var named: [[UInt8]] = []  // other fields `Connection` names (rare)
        var transferCoded = false
        var length: Int?
        /// The relayed `Content-Length` line holds a list (of equal values): it goes as one value.
        var lengthListed = false
        // Written straight into the buffer's memory.
        let bound = Self.encodedBound(head: head.count)
        var headerStart = 0
        var headLength = 0
        var lengthWritten = false
        try out.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { memory in
            var w = RawWriter(memory)
            w.put("HTTP/1.1")
            w.put(reason)
            w.put("\r\n")
            headerStart = w.count
            var runStart = lineEnd + 1, runEnd = lineEnd + 1  // kept lines not written yet
            let walk = try HTTPSyntax.walkLines(head, from: lineEnd + 1) { line in
                let kind = Self.kind(line.name)
                switch kind {
                case .connection:
                    // The usual values whole, before splitting a list.
                    if HeaderName.equals(line.value, "keep-alive") {
                        keepAliveRequested = true
                    } else if HeaderName.equals(line.value, "close") {
                        closeRequested = true
                    } else {
                        HTTPSyntax.forEachToken(line.value) { token in
                            if HeaderName.equals(token, "close") {
                                closeRequested = true
                            } else if HeaderName.equals(token, "keep-alive") {
                                keepAliveRequested = true
                            } else if Self.kind(token) == .endToEnd || Self.kind(token) == .contentLength {
                                named.append(Array(token))
                            }
                        }
                    }
                case .transferEncoding:
                    // A second line adds to the first one's list: chunked twice, or another coding.
                    guard !transferCoded, HTTPSyntax.isOnlyChunked(line.value) else { throw ParseError.badTransferCoding }
                    transferCoded = true
                case .contentLength:
                    // The usual single value whole, before splitting a list.
                    if let n = HTTPSyntax.decimal(line.value), length == nil || length == n {
                        length = n
                        break
                    }
                    var ok = true
                    HTTPSyntax.forEachToken(line.value) { token in
                        guard ok, let n = HTTPSyntax.decimal(token), length == nil || length == n else {
                            ok = false
                            return
                        }
                        length = n
                    }
                    guard ok, length != nil else { throw ParseError.badContentLength }
                    if !lengthWritten { lengthListed = true }  // later lines are dropped anyway
                case .endToEnd:
                    if !dated && line.name.count == 4 && line.name[0] | 0x20 == UInt8(ascii: "d") && HeaderName.equals(line.name, "date") {
                        dated = true
                    }
                case .hopByHop, .forwardedFor, .forwardedProto:
                    break
                }
                // End-to-end lines as they are; a length once; a 101's `Upgrade`. Consecutive kept
                // lines that end in CRLF are copied as one run.
                let switchedTo = switching && kind == .hopByHop && HeaderName.equals(line.name, "upgrade")
                if switchedTo { upgradeNamed = true }
                guard kind == .endToEnd || (kind == .contentLength && !lengthWritten && status != 204) || switchedTo else { return }
                if kind == .contentLength { lengthWritten = true }
                let start = base.distance(to: line.whole.baseAddress!)
                let end = start + line.whole.count
                if end + 1 < head.count && head[end] == 0x0D {
                    if start != runEnd {
                        w.put(UnsafeRawBufferPointer(rebasing: head[runStart..<runEnd]))
                        runStart = start
                    }
                    runEnd = end + 2
                } else {  // a bare LF: the client gets CRLF
                    w.put(UnsafeRawBufferPointer(rebasing: head[runStart..<runEnd]))
                    w.put(line.whole)
                    w.put("\r\n")
                    runStart = end + 1
                    runEnd = runStart
                }
            }
            switch walk {
            case .end(let end): headLength = end
            case .ranOut: return 0  // the head has not all arrived: nothing written
            case .malformed: throw ParseError.malformedHead
            }
            if switching && !upgradeNamed { throw ParseError.malformedHead }
            w.put(UnsafeRawBufferPointer(rebasing: head[runStart..<runEnd]))
            // Rare: something found later changes what is relayed (fields that `Connection`
            // names, a length beside a transfer coding, which changes the framing, a length
            // given as a list): write the lines again.
            if !named.isEmpty || (transferCoded && lengthWritten) || lengthListed {
                w.count = headerStart
                var lengthRelayed = false
                guard HTTPSyntax.forEachLine(head, from: lineEnd + 1, { line in
                    switch Self.kind(line.name) {
                    case .hopByHop where switching && HeaderName.equals(line.name, "upgrade"):
                        break
                    case .hopByHop, .connection, .transferEncoding:
                        return
                    case .contentLength:
                        guard !transferCoded, !lengthRelayed, status != 204 else { return }
                        lengthRelayed = true
                        if lengthListed, let length {
                            // At most a byte longer than the line it replaces (which has a
                            // comma besides the digits), as a bare-LF line is: within the bound.
                            w.put("Content-Length: ")
                            w.put(string: String(length))
                            w.put("\r\n")
                            return
                        }
                    case .endToEnd, .forwardedFor, .forwardedProto:
                        if named.contains(where: { HeaderName.equals(line.name, $0) }) { return }
                    }
                    w.put(line.whole)
                    w.put("\r\n")
                }) else { throw ParseError.malformedHead }
            }
            return w.count
        }
        guard headLength > 0 else { return nil }

        let noBody = self.noBody || status < 200 || status == 204 || status == 304
        let framing: Framing
        if noBody {
            framing = .none
        } else if transferCoded {
            framing = .chunked
        } else if let length {
            framing = .length(length)
        } else {
            framing = .close
        }
        // A transfer coding beside a length, or from an HTTP/1.0 upstream, is faulty framing (RFC
        // 9112 §6.1, §6.3): the body is read as chunked, but the upstream may have meant the
        // length, and whatever it sends after the chunks would be read as the next response.
        let faultyFraming = transferCoded && (length != nil || minor == 0)
        let keepAlive = framing != .close && !faultyFraming
            && (minor >= 1 ? !closeRequested : keepAliveRequested && !closeRequested)

        let parsed = Head(
            status: status, encoded: out, framing: framing, keepAlive: keepAlive, closeRequested: closeRequested,
            headerStart: headerStart, dated: dated)
        return (parsed, headLength)
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

    /// The header lines as they go with a body gzipped on the way (`gzip_proxied`): without
    /// `Content-Length` (the length changes) and `Accept-Ranges` (ranges of the gzipped bytes are
    /// not served), and with a strong `ETag` made weak (the body is no longer the upstream's
    /// bytes: a strong validator shared by both would let a client resume one with the other's
    /// range), as nginx does. Every other line is copied byte for byte.
    mutating func prepareForGzip() {
        var out = ByteBufferAllocator().buffer(capacity: encoded.readableBytes + 8)
        let start = headerStart - encoded.readerIndex
        encoded.withUnsafeReadableBytes { bytes in
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[..<start]))
            _ = HTTPSyntax.forEachLine(bytes, from: start) { line in
                if HeaderName.equals(line.name, "content-length") || HeaderName.equals(line.name, "accept-ranges") { return }
                if HeaderName.equals(line.name, "etag"), line.value.first != UInt8(ascii: "W") {
                    out.writeStaticString("ETag: W/")
                    out.writeBytes(line.value)
                } else {
                    out.writeBytes(line.whole)
                }
                out.writeStaticString("\r\n")
            }
        }
        encoded = out
    }
}
