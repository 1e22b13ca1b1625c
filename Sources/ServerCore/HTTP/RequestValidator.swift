import NIOHTTP1

/// Protocol checks the codec does not make, applied to every request head before routing
/// (compat 2.2-2.3): only HTTP/1.0 and 1.1; only eXpServer's methods (plus PATCH), in upper case;
/// exactly one `Host` on HTTP/1.1, and never an empty header section.
public enum RequestValidator {
    static func isAllowed(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .POST, .PUT, .DELETE, .OPTIONS, .TRACE, .CONNECT, .PATCH: return true
        default: return false
        }
    }

    /// `hosts`: how many `Host` fields the head has (`RequestHeadParser.Parsed.hostFields`).
    public static func validate(_ head: HTTPRequestHead, hosts: Int) -> HTTPError? {
        guard head.version.major == 1, head.version.minor <= 1 else { return .badRequest }
        guard isAllowed(head.method) else { return .badRequest }
        if head.headers.isEmpty { return .badRequest }
        if hosts > 1 { return .badRequest }
        if head.version.minor == 1 && hosts == 0 { return .badRequest }
        return nil
    }
}
