/// Control-plane endpoints: HTTP/1.1 + JSON on the daemon's Unix-domain socket, versioned paths.
/// `curl --unix-socket SOCK http://localhost/v1/status` works as well as `expctl status`.
public enum Endpoint {
    public static let status = "/v1/status"
    public static let reload = "/v1/reload"
    public static let audit = "/v1/audit"
    public static let acl = "/v1/acl"
    public static let aclRemove = "/v1/acl/remove"
    public static let aclCheck = "/v1/acl/check"
    public static let upstreams = "/v1/upstreams"
    public static let stats = "/v1/stats"
    public static let metrics = "/v1/metrics"
    public static let upstreamWeight = "/v1/upstreams/weight"
    public static let upstreamDrain = "/v1/upstreams/drain"
    public static let upstreamEnable = "/v1/upstreams/enable"
    public static let upstreamDisable = "/v1/upstreams/disable"
}

/// HTTP methods the control protocol uses.
public enum ControlMethod: String, Sendable {
    case get = "GET"
    case post = "POST"
    case delete = "DELETE"
}
