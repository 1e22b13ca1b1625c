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

    /// The upstream request head for `head`; `client` is the address for `X-Forwarded-For` (nil:
    /// none added). `chunked`: the body must be sent chunk-framed.
    static func encodeRequest(_ head: HTTPRequestHead, client: String?) -> (bytes: ByteBuffer, chunked: Bool) {
        var out = ByteBufferAllocator().buffer(capacity: 0)
        let chunked = encodeRequest(head, client: client, into: &out)
        return (out, chunked)
    }

    /// `encodeRequest(_:client:)` written into `out`, which is cleared first (its storage is
    /// written again when nothing else holds it any more: a connection's last request head).
    /// One pass over the fields; a second only when `Connection` names fields to drop.
    static func encodeRequest(_ head: HTTPRequestHead, client: String?, into out: inout ByteBuffer) -> Bool {
        var named: [Substring] = []
        var forwardedFor: [String] = []
        var hasProto = false
        var length: String?
        var transferCoded = false

        out.clear(minimumCapacity: 256 + head.uri.utf8.count)
        out.writeString(head.method.rawValue)
        out.writeStaticString(" ")
        out.writeString(head.uri)
        out.writeStaticString(" HTTP/1.1\r\n")
        let fieldsStart = out.writerIndex
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
            if relayed(kind) { writeField(name, value, to: &out) }
        }
        if !named.isEmpty {
            // Rare: drop the fields `Connection` names (they may have come before it).
            out.moveWriterIndex(to: fieldsStart)
            for (name, value) in head.headers {
                let kind = HeaderName.kind(Substring(name))
                guard relayed(kind), kind != .endToEnd || !named.contains(where: { HeaderName.equals($0, name) }) else { continue }
                writeField(name, value, to: &out)
            }
        }
        if let client {
            out.writeStaticString("X-Forwarded-For: ")
            for existing in forwardedFor {
                out.writeString(existing)
                out.writeStaticString(", ")
            }
            out.writeString(client)
            out.writeStaticString("\r\n")
        }
        if !hasProto { out.writeStaticString("X-Forwarded-Proto: http\r\n") }
        if transferCoded {
            out.writeStaticString("Transfer-Encoding: chunked\r\n")
        } else if let length {
            out.writeStaticString("Content-Length: ")
            out.writeString(length)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        return transferCoded
    }

    private static func writeField(_ name: String, _ value: String, to out: inout ByteBuffer) {
        out.writeString(name)
        out.writeStaticString(": ")
        out.writeString(value)
        out.writeStaticString("\r\n")
    }
}
