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

    /// `fields`: how many header fields the head has; `hosts`: how many of them are `Host`
    /// (`RequestHeadParser.Parsed`'s counts).
    public static func validate(version: HTTPVersion, method: HTTPMethod, fields: Int, hosts: Int) -> HTTPError? {
        guard version.major == 1, version.minor <= 1 else { return .badRequest }
        guard isAllowed(method) else { return .badRequest }
        if fields == 0 { return .badRequest }
        if hosts > 1 { return .badRequest }
        if version.minor == 1 && hosts == 0 { return .badRequest }
        return nil
    }
}
