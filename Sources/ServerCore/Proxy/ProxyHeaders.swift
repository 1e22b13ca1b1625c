import NIOCore

/// The request head a proxied request is sent upstream with (RFC 9110 §7.6), written straight
/// into bytes. Pure.
///
/// The hop-by-hop fields are dropped — `Connection`, the fields it names, `Keep-Alive`,
/// `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade` — because each hop frames
/// and manages its own connection. Everything else passes through unchanged and in order; `Host`
/// is kept as the client sent it (even when `Connection` names it), and added when it sent none (HTTP/1.0; `hostValue`), since an
/// HTTP/1.1 request must have one (RFC 9112 §3.2). The request gains `X-Forwarded-For`: the address
/// it came from (the connection's peer, as HAProxy's `option forwardfor`: each hop adds its own),
/// appended to any existing value in one line at the end; and `X-Forwarded-Proto: http`, in place
/// of any the client sent, since only a trusted proxy's (`acl.trusted_proxies`) is kept. A
/// body keeps the client's framing: its length, else chunked. The request goes as HTTP/1.1 with
/// keep-alive. A request to switch protocols (`RequestHeadParser.Parsed.upgrade`, a WebSocket
/// handshake) keeps its `Upgrade` lines and goes with `Connection: upgrade`: the one hop-by-hop
/// offer relayed, as HAProxy does and nginx's WebSocket set-up, since the tunnel it asks for
/// spans both hops. (The response side is `UpstreamResponseParser`'s.)
public enum ProxyHeaders {
    /// The upstream request head for the client's head `head` (its bytes as received, from the
    /// request line through the blank line, already accepted by `RequestHeadParser`), written
    /// into `out`, which is cleared first (its storage is written again when nothing else holds
    /// it any more: a connection's last request head). `peer` is the address appended
    /// to `X-Forwarded-For` (nil: none added); `trustedPeer`: it is a trusted proxy, whose
    /// `X-Forwarded-Proto` is kept. `host` is the `Host` value to add, first after the
    /// request line, to a head that has none (nil: it has one; the parser counts them, so this
    /// costs the usual request nothing). `upgrade`: the request asks to switch protocols, and the
    /// offer goes upstream. Returns whether the body must be sent chunk-framed.
    ///
    /// Straight from bytes to bytes: one pass over the lines (a second only when `Connection`
    /// names fields to drop), each kept field written as `name: value` (the name as sent, the
    /// value trimmed) into the buffer's memory directly, so no field becomes a string.
    static func encodeRequest(
        _ head: UnsafeRawBufferPointer, peer: String?, trustedPeer: Bool = false, host: String?, upgrade: Bool = false,
        into out: inout ByteBuffer
    ) -> Bool {
        // An upper bound: a line at most doubles (the shortest field line, "n:\n", becomes
        // "n: \r\n"; the request line gains at most a CR), then the added fields (forwarding,
        // framing: under 100 bytes besides the addresses) and the blank line.
        let size = head.count * 2 + (peer?.utf8.count ?? 0) + (host?.utf8.count ?? 0) + 128
        out.clear(minimumCapacity: size)
        var transferCoded = false
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { memory in
            var w = RawWriter(memory)
            transferCoded = writeRequest(head, peer: peer, trustedPeer: trustedPeer, host: host, upgrade: upgrade, to: &w)
            return w.count
        }
        return transferCoded
    }

    /// The `Host` a request that came without one goes upstream with: the address the client
    /// connected to (`local`, the accepting socket's address), `ip:port` or `[v6]:port`. That is
    /// the authority RFC 9112 §3.3 reconstructs for a request without `Host` (the connection's
    /// local address), so the upstream is told of the request the client made; it is also the
    /// same whichever upstream is picked, retries included (nginx sends the upstream's name, for
    /// every request). An absolute-form target overrides it upstream (RFC 9112 §3.2.2). Empty,
    /// as RFC 9112 §3.2 allows for an authority that is not known, if the address is not an IP.
    static func hostValue(local: SocketAddress?) -> String {
        guard let local, let ip = local.ipAddress, let port = local.port else { return "" }
        if case .v6 = local { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    private static func writeRequest(
        _ head: UnsafeRawBufferPointer, peer: String?, trustedPeer: Bool, host: String?, upgrade: Bool, to w: inout RawWriter
    ) -> Bool {
        // The request line: `method SP+ target SP+ HTTP/x.y`, checked by the parser (the bounds
        // are kept all the same).
        var i = 0
        while i < head.count && head[i] != 0x20 { i += 1 }
        w.put(UnsafeRawBufferPointer(rebasing: head[..<i]))
        while i < head.count && head[i] == 0x20 { i += 1 }
        let target = i
        while i < head.count && head[i] != 0x20 { i += 1 }
        w.put(" ")
        w.put(UnsafeRawBufferPointer(rebasing: head[target..<i]))
        w.put(" HTTP/1.1\r\n")
        if let host {
            w.put("Host: ")
            w.put(string: host)
            w.put("\r\n")
        }
        let fieldsStart = w.count
        let linesStart = (HTTPSyntax.lineEnd(head) ?? head.count) + 1

        var named: [UnsafeRawBufferPointer] = []
        var forwardedFor: [UnsafeRawBufferPointer] = []
        var hasProto = false
        var length: UnsafeRawBufferPointer?
        var transferCoded = false
        /// Whether a field goes upstream as it is (`Connection`'s list aside).
        func relayed(_ kind: HeaderName.Kind, _ name: UnsafeRawBufferPointer) -> Bool {
            switch kind {
            case .hopByHop: return upgrade && HeaderName.equals(name, "upgrade")
            case .connection, .transferEncoding, .contentLength: return false
            case .forwardedFor: return peer == nil
            case .forwardedProto: return trustedPeer
            case .endToEnd: return true
            }
        }
        func put(_ line: HTTPSyntax.Line) {
            w.put(line.name)
            w.put(": ")
            w.put(line.value)
            w.put("\r\n")
        }
        _ = HTTPSyntax.forEachLine(head, from: linesStart) { line in
            let kind = HeaderName.kind(line.name)
            switch kind {
            case .connection:
                HTTPSyntax.forEachToken(line.value) { token in
                    switch HeaderName.kind(token) {
                    case .hopByHop, .connection, .transferEncoding: break
                    // (`Host` is never dropped: an HTTP/1.1 request without one is invalid, RFC
                    // 9112 §3.2, and the upstream would pick its default site.)
                    case .endToEnd where HeaderName.equals(token, "host"): break
                    default: named.append(token)
                    }
                }
            case .transferEncoding: transferCoded = true
            case .contentLength: if length == nil { length = line.value }
            case .forwardedFor: forwardedFor.append(line.value)
            case .forwardedProto: hasProto = trustedPeer
            case .endToEnd, .hopByHop: break
            }
            if relayed(kind, line.name) { put(line) }
        }
        if !named.isEmpty {
            // Rare: drop the fields `Connection` names (they may have come before it).
            w.count = fieldsStart
            _ = HTTPSyntax.forEachLine(head, from: linesStart) { line in
                let kind = HeaderName.kind(line.name)
                guard relayed(kind, line.name), kind != .endToEnd || !named.contains(where: { HeaderName.equals(line.name, $0) })
                else { return }
                put(line)
            }
        }
        if let peer {
            w.put("X-Forwarded-For: ")
            for existing in forwardedFor {
                w.put(existing)
                w.put(", ")
            }
            w.put(string: peer)
            w.put("\r\n")
        }
        if !hasProto { w.put("X-Forwarded-Proto: http\r\n") }
        if upgrade { w.put("Connection: upgrade\r\n") }
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
