/// The config's `acl` block.
public struct ACLSettings: Sendable, Equatable {
    public enum DenyAction: String, Sendable { case forbidden = "403", close }

    public var allow: [CIDR] = []
    public var deny: [CIDR] = []
    /// `"403"`: denied requests get 403; `"close"`: denied peers are closed at accept, before
    /// anything is read (and a keep-alive connection at its next request). A trusted proxy's
    /// connection is never closed for a client it forwards: that request gets the 403.
    public var denyAction: DenyAction = .forbidden
    public var trustedProxies: [CIDR] = []
    public var autoBan: AutoBanSettings?

    public init() {}
}

/// `acl.auto_ban`: a client exceeding `max_requests` requests, or `max_4xx` 4xx answers, within
/// `window_ms` gets a deny entry for `ban_ms` with reason `auto: ...`.
public struct AutoBanSettings: Sendable, Equatable {
    public var windowMs: Int
    public var maxRequests: Int?
    public var max4xx: Int?
    public var banMs: Int

    public init(windowMs: Int = 10_000, maxRequests: Int? = nil, max4xx: Int? = nil, banMs: Int = 600_000) {
        self.windowMs = windowMs
        self.maxRequests = maxRequests
        self.max4xx = max4xx
        self.banMs = banMs
    }
}
