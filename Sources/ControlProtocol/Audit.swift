/// One audit record: every control-plane mutation and every refused control request.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var id: Int64
    /// Seconds since the epoch.
    public var time: Double
    public var uid: Int64?
    public var pid: Int64?
    public var action: String
    public var arguments: String
    /// `ok`, or `error: <code>` / `refused`.
    public var result: String
    public var reason: String?

    public init(id: Int64, time: Double, uid: Int64?, pid: Int64?, action: String, arguments: String, result: String, reason: String?) {
        self.id = id
        self.time = time
        self.uid = uid
        self.pid = pid
        self.action = action
        self.arguments = arguments
        self.result = result
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case id, time, uid, pid, action, arguments, result, reason }

    /// Every key, nil ones (`uid`/`pid` of the daemon's own actions, no `reason`) as null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(time, forKey: .time)
        try c.encode(uid, forKey: .uid)
        try c.encode(pid, forKey: .pid)
        try c.encode(action, forKey: .action)
        try c.encode(arguments, forKey: .arguments)
        try c.encode(result, forKey: .result)
        try c.encode(reason, forKey: .reason)
    }
}

/// `GET /v1/audit?since=<epoch seconds>&limit=<n>`.
public struct AuditResponse: Codable, Sendable, Equatable {
    public var entries: [AuditEntry]
    public init(entries: [AuditEntry]) { self.entries = entries }
}
