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
}

/// `GET /v1/audit?since=<epoch seconds>&limit=<n>`.
public struct AuditResponse: Codable, Sendable, Equatable {
    public var entries: [AuditEntry]
    public init(entries: [AuditEntry]) { self.entries = entries }
}
