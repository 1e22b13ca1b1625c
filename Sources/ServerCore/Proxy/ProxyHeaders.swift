import NIOCore
import NIOHTTP1

/// The request head a proxied request is sent upstream with (RFC 9110 §7.6), written straight
/// into bytes. Pure.
///
/// The hop-by-hop fields are dropped — `Connection`, the fields it names, `Keep-Alive`,
/// `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade` — because each hop frames
/// and manages its own connection. Everything else passes through unchanged and in order; `Host`
/// is kept as the client sent it. The request gains `X-Forwarded-For` (appended to any existing
/// value, in one line at the end) and `X-Forwarded-Proto: http` unless present. A body keeps the
/// client's framing: its length, else chunked. The request goes as HTTP/1.1 with keep-alive.
/// (The response side is `UpstreamResponseParser`'s.)
public enum ProxyHeaders {
    /// Case-insensitive membership in the hop-by-hop set, without allocating.
    static func isHopByHop(_ name: Substring) -> Bool {
        switch HeaderName.kind(name) {
        case .hopByHop, .connection, .transferEncoding: return true
        default: return false
        }
    }

    /// The upstream request head for `head`, written into `out`, which is cleared first (its
    /// storage is written again when nothing else holds it any more: a connection's last request
    /// head). `client` is the address for `X-Forwarded-For` (nil: none added). Returns whether
    /// the body must be sent chunk-framed.
    /// One pass over the fields (a second only when `Connection` names fields to drop), copied
    /// into the buffer's memory directly: one buffer operation, not one per piece.
    static func encodeRequest(_ head: HTTPRequestHead, client: String?, into out: inout ByteBuffer) -> Bool {
        let method = head.method.rawValue
        // An upper bound of what is written.
        var size = method.utf8.count + head.uri.utf8.count + 13 + 19 + (client?.utf8.count ?? 0) + 27 + 46
        for (name, value) in head.headers { size += name.utf8.count + value.utf8.count + 4 }
        out.clear(minimumCapacity: size)
        var transferCoded = false
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { memory in
            var w = RawWriter(memory)
            transferCoded = writeRequest(head, method: method, client: client, to: &w)
            return w.count
        }
        return transferCoded
    }

    private static func writeRequest(_ head: HTTPRequestHead, method: String, client: String?, to w: inout RawWriter) -> Bool {
        var named: [Substring] = []
        var forwardedFor: [String] = []
        var hasProto = false
        var length: String?
        var transferCoded = false
        w.put(method)
        w.put(" ")
        w.put(head.uri)
        w.put(" HTTP/1.1\r\n")
        let fieldsStart = w.count
        /// Whether a field of this kind goes upstream as it is (`Connection`'s list aside).
        func relayed(_ kind: HeaderName.Kind) -> Bool {
            switch kind {
            case .hopByHop, .connection, .transferEncoding, .contentLength: return false
            case .forwardedFor: return client == nil
            case .endToEnd, .forwardedProto: return true
            }
        }
        for (name, value) in head.headers {
            let kind = HeaderName.kind(Substring(name))
            switch kind {
            case .connection:
                for token in value.split(separator: ",") {
                    let t = token.trimmingSpaces()
                    if !t.isEmpty && !isHopByHop(t) { named.append(t) }
                }
            case .transferEncoding: transferCoded = true
            case .contentLength: if length == nil { length = value }
            case .forwardedFor: forwardedFor.append(value)
            case .forwardedProto: hasProto = true
            case .endToEnd, .hopByHop: break
            }
            if relayed(kind) { w.putField(name, value) }
        }
        if !named.isEmpty {
            // Rare: drop the fields `Connection` names (they may have come before it).
            w.count = fieldsStart
            for (name, value) in head.headers {
                let kind = HeaderName.kind(Substring(name))
                guard relayed(kind), kind != .endToEnd || !named.contains(where: { HeaderName.equals($0, name) }) else { continue }
                w.putField(name, value)
            }
        }
        if let client {
            w.put("X-Forwarded-For: ")
            for existing in forwardedFor {
                w.put(existing)
                w.put(", ")
            }
            w.put(client)
            w.put("\r\n")
        }
        if !hasProto { w.put("X-Forwarded-Proto: http\r\n") }
        if transferCoded {
            w.put("Transfer-Encoding: chunked\r\n")
        } else if let length {
            w.put("Content-Length: ")
            w.put(length)
            w.put("\r\n")
        }
        w.put("\r\n")
        return transferCoded
    }
}
