import NIOCore
import NIOHTTP1

/// Parses a client's request head straight from its bytes (compat 2.2–2.3, RFC 9112 §2–6): the
/// request line, the header fields (values trimmed, names as sent), and how the body is framed.
/// What makes a request invalid for the protocol, not the grammar (a method we do not serve, a
/// version other than 1.0/1.1, a missing `Host`), is `RequestValidator`'s.
///
/// Grammar: `method SP+ target SP+ HTTP/d.d`, the method a token, the target printable bytes
/// (UTF-8 passes); header lines `token ":" OWS value OWS`; lines end in CRLF or a bare LF;
/// obsolete line folding is refused; a `Host` value must be a host and port (`HostSyntax`). Framing: the `Transfer-Encoding` fields, one list, must be
/// `chunked` alone (another coding is 501), on HTTP/1.1, without `Content-Length`; a
/// `Content-Length` is one decimal, given once.
///
/// Limits: a request line over `maxLine` is 414; header fields over `maxHeaderBytes` in all, or
/// more than `maxFields` lines, are 431. One field line may use all of `maxHeaderBytes` (a large
/// Cookie fits whenever the limit is raised for it, as with nginx's large_client_header_buffers):
/// `maxLine` bounds the request line only.
enum RequestHeadParser {
    struct Limits: Equatable {
        var maxLine: Int
        var maxHeaderBytes: Int
        var maxFields = 200
    }

    enum Failure: Error, Equatable {
        case badRequest
        case uriTooLong
        case fieldsTooLarge
        /// A transfer coding other than `chunked` (RFC 9112 §6.1).
        case notImplemented

        var status: HTTPResponseStatus {
            switch self {
            case .badRequest: return .badRequest
            case .notImplemented: return .notImplemented
            case .uriTooLong: return .uriTooLong
            case .fieldsTooLarge: return .requestHeaderFieldsTooLarge
            }
        }
    }

    struct Parsed {
        var method: HTTPMethod
        var uri: String
        var version: HTTPVersion
        /// nil: no body.
        var framing: BodyReader.Framing?
        /// The client waits for `100 Continue` before it sends the body (HTTP/1.1 with
        /// `Expect: 100-continue` and a body, RFC 9110 §10.1.1).
        var expectsContinue = false
        /// The connection stays open after this request (`HTTPRequestHead.isKeepAlive`'s rule,
        /// decided while the fields are parsed instead of by looking them up again).
        var keepAlive = true
        /// The client asks to switch protocols (a WebSocket handshake, RFC 9110 §7.8): HTTP/1.1,
        /// an `Upgrade` field, `upgrade` among the `Connection` tokens, and no body. A proxied one
        /// is offered to the upstream, and becomes a tunnel if the upstream answers 101. Never an
        /// offer of `h2c` (cleartext HTTP/2, whose upgrade RFC 9113 dropped): requests sent through
        /// such a tunnel would reach the upstream past the routes and their access lists ("h2c
        /// smuggling"); that request goes as a plain one, its `Upgrade` dropped.
        var upgrade = false
        /// Where the first `Host` field's value is in `raw`, and how many `Host` fields there are
        /// (the validator and routing need both; looking them up again costs a pass over the
        /// fields). The value becomes a string only when asked for (`host`): routing asks only
        /// when a server names hostnames.
        var hostRange: Range<Int>?
        var hostFields = 0
        /// How many header fields there are.
        var fieldCount = 0
        /// The head's bytes as received (request line through blank line), for relaying it
        /// (`ProxyHeaders.encodeRequest`) and for `head`: a slice of the decoder's buffer.
        var raw = ByteBuffer()

        /// The first `Host` field's value.
        var host: String? {
            hostRange.map { raw.getString(at: raw.readerIndex + $0.lowerBound, length: $0.count) ?? "" }
        }

        /// The request as NIO's head, its fields made strings from `raw`: built on each call, by
        /// the answers that need it (a proxied request goes without; the facts above are what
        /// routing and relaying use).
        var head: HTTPRequestHead {
            var fields: [(String, String)] = []
            fields.reserveCapacity(fieldCount)
            forEachField { fields.append((String(decoding: $0.name, as: UTF8.self), String(decoding: $0.value, as: UTF8.self))) }
            return HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(fields))
        }

        /// The value of the list-valued field named `lower` (a lowercase name): all its lines
        /// joined with ", " (RFC 9110 §5.3), read from `raw` without building `head` (the fields a
        /// proxied request to a gzip route needs, `Accept-Encoding` and `Cache-Control`).
        func listValue(of lower: StaticString) -> String? {
            var found: String?
            forEachField { field in
                guard HeaderName.equals(field.name, lower) else { return }
                let value = String(decoding: field.value, as: UTF8.self)
                found = found.map { $0 + ", " + value } ?? value
            }
            return found
        }

        /// Each header field of `raw` (names as sent, values trimmed), in order.
        private func forEachField(_ body: (HTTPSyntax.Line) -> Void) {
            raw.withUnsafeReadableBytes { bytes in
                guard let lineEnd = HTTPSyntax.lineEnd(bytes) else { return }
                _ = HTTPSyntax.forEachLine(bytes, from: lineEnd + 1, body)
            }
        }

        /// The body's announced length, when it has one.
        var length: Int? {
            if case .length(let n) = framing { return n }
            return nil
        }
    }

    /// Parses `bytes`: a whole head, from the request line's first byte through the blank line
    /// (`raw`: the same bytes in the buffer they were read into, kept for relaying them).
    static func parse(_ bytes: UnsafeRawBufferPointer, limits: Limits, raw: ByteBuffer) throws(Failure) -> Parsed {
        guard let lineEnd = HTTPSyntax.lineEnd(bytes) else { throw .badRequest }
        let line = UnsafeRawBufferPointer(rebasing: bytes[..<trimCR(bytes, lineEnd)])
        guard line.count <= limits.maxLine else { throw .uriTooLong }
        let (method, uri, version) = try requestLine(line)
        guard bytes.count - lineEnd - 1 <= limits.maxHeaderBytes else { throw .fieldsTooLarge }

        var fieldCount = 0
        var tooLarge = false
        var badFraming = false
        var length: Int?
        var codings = TransferCodings()
        var expect = false
        var connection = ConnectionTokens()
        var hostRange: Range<Int>?
        var hostFields = 0
        var upgradeField = false
        var badHost = false
        var h2c = false
        let wellFormed = HTTPSyntax.forEachLine(bytes, from: lineEnd + 1) { field in
            guard fieldCount < limits.maxFields else {  // (each line is within maxHeaderBytes, checked above)
                tooLarge = true
                return
            }
            var isFirstHost = false
            switch HeaderName.kind(field.name) {
            case .contentLength:
                if length != nil { badFraming = true }  // given twice (nginx refuses that too)
                length = HTTPSyntax.decimal(field.value)
                if length == nil { badFraming = true }
            case .transferEncoding:
                codings.add(field.value)
            case .connection:
                connection.add(field.value)
            case .hopByHop where field.name.count == 7 && HeaderName.equals(field.name, "upgrade"):
                upgradeField = true
                HTTPSyntax.forEachToken(field.value) { offered in
                    // `h2c`, or `h2c/version`
                    if offered.count >= 3, HeaderName.equals(UnsafeRawBufferPointer(rebasing: offered[..<3]), "h2c"),
                        offered.count == 3 || offered[3] == UInt8(ascii: "/")
                    {
                        h2c = true
                    }
                }
            case .endToEnd where field.name.count == 6 && HeaderName.equals(field.name, "expect"):
                expect = expect || HeaderName.equals(field.value, "100-continue")
            case .endToEnd where field.name.count == 4 && HeaderName.equals(field.name, "host"):
                hostFields += 1
                isFirstHost = hostFields == 1
                if !HostSyntax.isValid(field.value) { badHost = true }
            default:
                break
            }
            if isFirstHost, let start = field.value.baseAddress, let base = bytes.baseAddress {
                hostRange = (start - base)..<(start - base + field.value.count)
            }
            fieldCount += 1
        }
        if tooLarge { throw .fieldsTooLarge }
        guard wellFormed, !badFraming, !badHost else { throw .badRequest }
        let framing: BodyReader.Framing?
        if codings.present {
            // RFC 9112 §6.1: a transfer coding on HTTP/1.0 is faulty framing, and a length beside
            // one a smuggling attempt (400, and the connection closes).
            guard version.major == 1, version.minor >= 1, length == nil else { throw .badRequest }
            if let failure = codings.failure { throw failure }
            framing = .chunked
        } else if let length, length > 0 {
            framing = .length(length)
        } else {
            framing = nil
        }
        return Parsed(
            method: method, uri: uri, version: version, framing: framing,
            expectsContinue: expect && version.minor >= 1 && framing != nil, keepAlive: connection.keepAlive(version),
            upgrade: upgradeField && !h2c && connection.upgrade && framing == nil && version.major == 1 && version.minor >= 1,
            hostRange: hostRange, hostFields: hostFields, fieldCount: fieldCount, raw: raw)
    }

    /// What the `Transfer-Encoding` fields say, taken as one list (RFC 9110 §5.3): only `chunked`,
    /// once, frames a request. A list whose final coding is not `chunked`, or that applies it twice,
    /// cannot be delimited (400, RFC 9112 §6.1, §7); `chunked` after another coding is a coding we
    /// do not implement (501, as nginx answers `gzip, chunked`).
    struct TransferCodings {
        private(set) var present = false
        private var chunked = 0
        private var others = 0
        private var lastIsChunked = false

        mutating func add(_ value: UnsafeRawBufferPointer) {
            present = true
            if HeaderName.equals(value, "chunked") {  // the usual value whole
                chunked += 1
                lastIsChunked = true
                return
            }
            HTTPSyntax.forEachToken(value) { token in
                lastIsChunked = HeaderName.equals(token, "chunked")
                if lastIsChunked { chunked += 1 } else { others += 1 }
            }
        }

        /// nil: `chunked` alone.
        var failure: Failure? {
            guard lastIsChunked, chunked == 1 else { return .badRequest }
            return others == 0 ? nil : .notImplemented
        }
    }

    /// What `Connection` fields say about keeping the connection open, as NIO's `isKeepAlive`
    /// reads them: `close` closes; `keep-alive` keeps an HTTP/1.0 connection open; both, or either
    /// twice, is contradictory and closes; neither leaves the version's default (1.1: open). And
    /// whether they name `upgrade`.
    struct ConnectionTokens {
        private var sawClose = false
        private var sawKeepAlive = false
        private var seen = 0
        private(set) var upgrade = false

        mutating func add(_ value: UnsafeRawBufferPointer) {
            HTTPSyntax.forEachToken(value) { token in
                if HeaderName.equals(token, "close") {
                    sawClose = true
                    seen += 1
                } else if HeaderName.equals(token, "keep-alive") {
                    sawKeepAlive = true
                    seen += 1
                } else if HeaderName.equals(token, "upgrade") {
                    upgrade = true
                }
            }
        }

        func keepAlive(_ version: HTTPVersion) -> Bool {
            if seen > 1 || sawClose { return false }
            if sawKeepAlive { return true }
            return version.major == 1 && version.minor >= 1
        }
    }

    /// For a head not complete yet (`bytes` from its first byte): the failure it already is (a
    /// request line or header fields over their limits, a malformed request line), or nil.
    static func checkIncomplete(_ bytes: UnsafeRawBufferPointer, limits: Limits) -> Failure? {
        guard let lineEnd = HTTPSyntax.lineEnd(bytes) else {
            return bytes.count > limits.maxLine ? .uriTooLong : nil
        }
        let line = UnsafeRawBufferPointer(rebasing: bytes[..<trimCR(bytes, lineEnd)])
        guard line.count <= limits.maxLine else { return .uriTooLong }
        do {
            _ = try requestLine(line)
        } catch {
            return error
        }
        let fieldBytes = bytes.count - lineEnd - 1
        return fieldBytes > limits.maxHeaderBytes ? .fieldsTooLarge : nil  // (the line being received included)
    }

    private static func trimCR(_ bytes: UnsafeRawBufferPointer, _ end: Int) -> Int {
        end > 0 && bytes[end - 1] == 0x0D ? end - 1 : end
    }

    /// `method SP+ target SP+ HTTP/d.d` (the line without its end).
    private static func requestLine(_ line: UnsafeRawBufferPointer) throws(Failure) -> (HTTPMethod, String, HTTPVersion) {
        var i = 0
        while i < line.count && HeaderName.isTokenByte(line[i]) { i += 1 }
        guard i > 0, i < line.count, line[i] == 0x20 else { throw .badRequest }
        let method = Self.method(UnsafeRawBufferPointer(rebasing: line[..<i]))
        while i < line.count && line[i] == 0x20 { i += 1 }
        let targetStart = i
        while i < line.count && line[i] != 0x20 {
            guard line[i] > 0x20 && line[i] != 0x7F else { throw .badRequest }
            i += 1
        }
        let target = UnsafeRawBufferPointer(rebasing: line[targetStart..<i])
        guard target.count > 0, i < line.count else { throw .badRequest }  // no version
        while i < line.count && line[i] == 0x20 { i += 1 }
        let v = UnsafeRawBufferPointer(rebasing: line[i...])
        guard v.count == 8, v[0] == UInt8(ascii: "H"), v[1] == UInt8(ascii: "T"), v[2] == UInt8(ascii: "T"),
            v[3] == UInt8(ascii: "P"), v[4] == UInt8(ascii: "/"), isDigit(v[5]), v[6] == UInt8(ascii: "."), isDigit(v[7])
        else { throw .badRequest }
        let version = HTTPVersion(major: Int(v[5] - UInt8(ascii: "0")), minor: Int(v[7] - UInt8(ascii: "0")))
        return (method, String(decoding: target, as: UTF8.self), version)
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// The common methods without building a string first.
    private static func method(_ name: UnsafeRawBufferPointer) -> HTTPMethod {
        switch name.count {
        case 3 where name[0] == UInt8(ascii: "G") && name[1] == UInt8(ascii: "E") && name[2] == UInt8(ascii: "T"):
            return .GET
        case 4 where name[0] == UInt8(ascii: "H") && name[1] == UInt8(ascii: "E") && name[2] == UInt8(ascii: "A") && name[3] == UInt8(ascii: "D"):
            return .HEAD
        case 4 where name[0] == UInt8(ascii: "P") && name[1] == UInt8(ascii: "O") && name[2] == UInt8(ascii: "S") && name[3] == UInt8(ascii: "T"):
            return .POST
        default:
            return HTTPMethod(rawValue: String(decoding: name, as: UTF8.self))
        }
    }
}
