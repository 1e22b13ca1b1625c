/// Global access-list entries over the control socket.
///
/// `GET /v1/acl[?expired=1]` → `ACLListResponse`; `POST /v1/acl` with `ACLPutRequest`;
/// `POST /v1/acl/remove` with `ACLRemoveRequest`; `GET /v1/acl/check?ip=ADDR` → `ACLCheckResponse`.
public struct ACLEntryInfo: Codable, Sendable, Equatable {
    public var cidr: String
    /// `allow` or `deny`.
    public var action: String
    /// `config`, `manual` or `auto`.
    public var source: String
    public var createdAt: Double?
    public var expiresAt: Double?
    public var expired: Bool
    public var reason: String?
    public var createdBy: Int64?
    public var hits: Int

    public init(cidr: String, action: String, source: String, createdAt: Double?, expiresAt: Double?, expired: Bool,
                reason: String?, createdBy: Int64?, hits: Int) {
        self.cidr = cidr
        self.action = action
        self.source = source
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.expired = expired
        self.reason = reason
        self.createdBy = createdBy
        self.hits = hits
    }

    enum CodingKeys: String, CodingKey {
        case cidr, action, source, expired, reason, hits
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case createdBy = "created_by"
    }

    /// Every key, nil ones as null (the schema's keys are always present); decoding still
    /// accepts them left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(cidr, forKey: .cidr)
        try c.encode(action, forKey: .action)
        try c.encode(source, forKey: .source)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(expired, forKey: .expired)
        try c.encode(reason, forKey: .reason)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(hits, forKey: .hits)
    }
}

public struct ACLListResponse: Codable, Sendable, Equatable {
    public var entries: [ACLEntryInfo]
    public init(entries: [ACLEntryInfo]) { self.entries = entries }
}

public struct ACLPutRequest: Codable, Sendable, Equatable {
    public static let fields: Set<String> = ["cidr", "action", "ttl_seconds", "reason", "force"]
    /// The longest `ttl_seconds` accepted: 100 years (3,155,760,000 s). Longer is refused (no
    /// TTL means never), so an expiry is always a time that dates, timers and integers can hold.
    public static let maxTTLSeconds: Double = 100 * 365.25 * 86400
    public var cidr: String
    public var action: String
    public var ttlSeconds: Double?
    public var reason: String?
    public var force: Bool?

    public init(cidr: String, action: String, ttlSeconds: Double? = nil, reason: String? = nil, force: Bool? = nil) {
        self.cidr = cidr
        self.action = action
        self.ttlSeconds = ttlSeconds
        self.reason = reason
        self.force = force
    }

    enum CodingKeys: String, CodingKey {
        case cidr, action, reason, force
        case ttlSeconds = "ttl_seconds"
    }
}

public struct ACLPutResponse: Codable, Sendable, Equatable {
    public var entry: ACLEntryInfo
    /// True when an entry for the same prefix was replaced.
    public var replaced: Bool
    public init(entry: ACLEntryInfo, replaced: Bool) {
        self.entry = entry
        self.replaced = replaced
    }
}

public struct ACLRemoveRequest: Codable, Sendable, Equatable {
    public static let fields: Set<String> = ["cidr", "reason"]
    public var cidr: String
    public var reason: String?
    public init(cidr: String, reason: String? = nil) {
        self.cidr = cidr
        self.reason = reason
    }
}

public struct ACLRemoveResponse: Codable, Sendable, Equatable {
    public var removed: String
    public init(removed: String) { self.removed = removed }
}

public struct ACLCheckResponse: Codable, Sendable, Equatable {
    public var ip: String
    /// `allow` or `deny`.
    public var decision: String
    /// The deciding entry; nil when no entry matches (allowed by default).
    public var entry: ACLEntryInfo?
    public var explanation: String

    public init(ip: String, decision: String, entry: ACLEntryInfo?, explanation: String) {
        self.ip = ip
        self.decision = decision
        self.entry = entry
        self.explanation = explanation
    }

    enum CodingKeys: String, CodingKey {
        case ip, decision, entry, explanation
    }

    /// Every key, `entry` as null when no entry matches (the schema's keys are always present).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ip, forKey: .ip)
        try c.encode(decision, forKey: .decision)
        try c.encode(entry, forKey: .entry)
        try c.encode(explanation, forKey: .explanation)
    }
}
