import NIOHTTP1

/// Header rewriting for the proxy (RFC 9110 §7.6.1). Pure.
///
/// Both directions drop the hop-by-hop fields — `Connection`, the fields it names, `Keep-Alive`,
/// `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade` — because each hop frames
/// and manages its own connection. Everything else passes through unchanged and in order
/// (eXpServer relays upstream headers as they are, `Server` and `Date` included). The request
/// gains `X-Forwarded-For` (appended to any existing value) and `X-Forwarded-Proto`; `Host` is
/// kept as the client sent it.
public enum ProxyHeaders {
    static func stripHopByHop(_ headers: HTTPHeaders) -> HTTPHeaders {
        // Fields named by Connection (rare beyond keep-alive/close, which are hop-by-hop anyway).
        var named: [Substring] = []
        for value in headers["connection"] {
            for token in value.split(separator: ",") {
                let t = token.trimmingSpaces()
                if !isHopByHop(t) { named.append(t) }
            }
        }
        var out = HTTPHeaders()
        out.reserveCapacity(headers.count + 2)
        for (name, value) in headers {
            if isHopByHop(Substring(name)) || named.contains(where: { equalsIgnoringCase($0, name) }) { continue }
            out.add(name: name, value: value)
        }
        return out
    }

    /// Case-insensitive membership in `hopByHop` without allocating a lowercased copy.
    static func isHopByHop(_ name: Substring) -> Bool {
        switch name.utf8.count {
        case 2: return equalsIgnoringCase(name, "te")
        case 7: return equalsIgnoringCase(name, "trailer") || equalsIgnoringCase(name, "upgrade")
        case 10: return equalsIgnoringCase(name, "connection") || equalsIgnoringCase(name, "keep-alive")
        case 16: return equalsIgnoringCase(name, "proxy-connection")
        case 17: return equalsIgnoringCase(name, "transfer-encoding")
        default: return false
        }
    }

    static func equalsIgnoringCase(_ a: Substring, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        return zip(a.utf8, b.utf8).allSatisfy { x, y in x == y || (x | 0x20) == (y | 0x20) && (y | 0x20) >= 97 && (y | 0x20) <= 122 }
    }

    public static func request(_ head: HTTPRequestHead, client: IPAddress?) -> HTTPRequestHead {
        var headers = stripHopByHop(head.headers)
        if let client {
            let existing = headers["x-forwarded-for"].joined(separator: ", ")
            headers.remove(name: "x-forwarded-for")
            headers.add(name: "X-Forwarded-For", value: existing.isEmpty ? client.description : existing + ", " + client.description)
        }
        if !headers.contains(name: "x-forwarded-proto") { headers.add(name: "X-Forwarded-Proto", value: "http") }
        var out = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
        // A request body is forwarded with the client's framing: a length stays, else chunked.
        if !head.headers["content-length"].isEmpty || !head.headers["transfer-encoding"].isEmpty {
            if let length = head.headers.first(name: "content-length") {
                out.headers.replaceOrAdd(name: "Content-Length", value: length)
            } else {
                out.headers.add(name: "Transfer-Encoding", value: "chunked")
            }
        }
        return out
    }

    public static func response(_ headers: HTTPHeaders) -> HTTPHeaders { stripHopByHop(headers) }
}
