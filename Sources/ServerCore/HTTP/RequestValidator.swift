import NIOHTTP1

/// Protocol checks the codec does not make, applied to every request head before routing
/// (compat 2.2-2.3): only HTTP/1.0 and 1.1; only eXpServer's methods (plus PATCH), in upper case;
/// exactly one `Host` on HTTP/1.1, at most one on HTTP/1.0. An HTTP/1.0 request may have no header
/// fields at all (RFC 9112 allows it, and load balancers' health checks send exactly that:
/// HAProxy's `option httpchk` sends `OPTIONS / HTTP/1.0` and a blank line); eXpServer's parser
/// refused any empty header section, which its tests only send with HTTP/1.1 (no Host: 400).
public enum RequestValidator {
    static func isAllowed(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .POST, .PUT, .DELETE, .OPTIONS, .TRACE, .CONNECT, .PATCH: return true
        default: return false
        }
    }

    /// `hosts`: how many header fields are `Host` (`RequestHeadParser.Parsed`'s count).
    public static func validate(version: HTTPVersion, method: HTTPMethod, hosts: Int) -> HTTPError? {
        guard version.major == 1, version.minor <= 1 else { return .badRequest }
        guard isAllowed(method) else { return .badRequest }
        if hosts > 1 { return .badRequest }
        if version.minor == 1 && hosts == 0 { return .badRequest }
        return nil
    }
}

extension RequestValidator {
    /// Whether a request's `Host` agrees with its target (RFC 9112 §3.2: a client sending an
    /// absolute-form target must send its authority as Host). The server, its routes and their ip
    /// lists are picked by Host (as eXpServer), and an absolute-form target goes upstream as it
    /// came, where the upstream goes by the target's authority (RFC 9112 §3.2.2): a Host naming
    /// another authority, or none, would let a request past the lists of the server it reaches.
    /// Such a request is refused (400). Origin-form targets always agree (callers skip the call
    /// for a target starting with `/`, the usual case, so the Host value is made only here).
    static func hostAgrees(target: String, host: String?) -> Bool {
        guard let parts = PathResolver.absoluteForm(Substring(target).utf8) else { return true }  // (origin-form, or 400 by the pathname)
        guard let host else { return false }
        let scheme = String(Substring(parts.scheme)).lowercased()
        let defaultPort: Substring? = scheme == "http" ? "80" : scheme == "https" ? "443" : nil
        func split(_ text: Substring) -> (host: Substring, port: Substring?) {
            // `[v6]:port` or `name:port`; the port may be absent or empty (its scheme's default).
            let hostEnd = text.hasPrefix("[") ? text.firstIndex(of: "]").map { text.index(after: $0) } ?? text.endIndex
                : text.lastIndex(of: ":") ?? text.endIndex
            let port = text[hostEnd...].dropFirst()
            return (text[..<hostEnd], port.isEmpty ? defaultPort : port)
        }
        let a = split(Substring(parts.authority)), b = split(Substring(host))
        return a.host.lowercased() == b.host.lowercased() && a.port == b.port
    }
}
