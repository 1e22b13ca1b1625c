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
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]

    static func stripHopByHop(_ headers: HTTPHeaders) -> HTTPHeaders {
        var named = Set<String>()
        for value in headers["connection"] {
            for token in value.split(separator: ",") { named.insert(token.trimmingSpaces().lowercased()) }
        }
        var out = HTTPHeaders()
        out.reserveCapacity(headers.count + 2)
        for (name, value) in headers {
            let lower = name.lowercased()
            if hopByHop.contains(lower) || named.contains(lower) { continue }
            out.add(name: name, value: value)
        }
        return out
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
