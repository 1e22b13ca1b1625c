/// `GET /v1/status`.
public struct StatusResponse: Codable, Sendable, Equatable {
    public var version: String
    public var protocolVersion: Int
    public var pid: Int32
    public var startedAt: Double
    public var uptimeMs: Int64
    public var configPath: String?
    public var stateDB: String
    public var controlSocket: String
    public var workers: Int
    public var listeners: [String]
    public var reloads: Int

    public init(version: String, protocolVersion: Int, pid: Int32, startedAt: Double, uptimeMs: Int64, configPath: String?,
                stateDB: String, controlSocket: String, workers: Int, listeners: [String], reloads: Int) {
        self.version = version
        self.protocolVersion = protocolVersion
        self.pid = pid
        self.startedAt = startedAt
        self.uptimeMs = uptimeMs
        self.configPath = configPath
        self.stateDB = stateDB
        self.controlSocket = controlSocket
        self.workers = workers
        self.listeners = listeners
        self.reloads = reloads
    }

    enum CodingKeys: String, CodingKey {
        case version, pid, workers, listeners, reloads
        case protocolVersion = "protocol_version"
        case startedAt = "started_at"
        case uptimeMs = "uptime_ms"
        case configPath = "config_path"
        case stateDB = "state_db"
        case controlSocket = "control_socket"
    }

    /// Every key; `config_path` is null (not left out) for the built-in default config.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(protocolVersion, forKey: .protocolVersion)
        try c.encode(pid, forKey: .pid)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(uptimeMs, forKey: .uptimeMs)
        try c.encode(configPath, forKey: .configPath)
        try c.encode(stateDB, forKey: .stateDB)
        try c.encode(controlSocket, forKey: .controlSocket)
        try c.encode(workers, forKey: .workers)
        try c.encode(listeners, forKey: .listeners)
        try c.encode(reloads, forKey: .reloads)
    }
}

/// `POST /v1/reload` body (optional) and answer.
public struct ReloadRequest: Codable, Sendable, Equatable {
    public var reason: String?
    public init(reason: String? = nil) { self.reason = reason }
}

public struct ReloadResponse: Codable, Sendable, Equatable {
    public var configPath: String?
    public var listeners: [String]
    public var reloads: Int
    /// Config keys whose new values wait for a restart (the running ones are kept), e.g.
    /// `state_db`, `workers`.
    public var notApplied: [String]

    public init(configPath: String?, listeners: [String], reloads: Int, notApplied: [String] = []) {
        self.configPath = configPath
        self.listeners = listeners
        self.reloads = reloads
        self.notApplied = notApplied
    }

    enum CodingKeys: String, CodingKey {
        case listeners, reloads
        case configPath = "config_path"
        case notApplied = "not_applied"
    }

    /// (An older daemon's answer has no `not_applied`: nothing is pending.)
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        configPath = try c.decodeIfPresent(String.self, forKey: .configPath)
        listeners = try c.decode([String].self, forKey: .listeners)
        reloads = try c.decode(Int.self, forKey: .reloads)
        notApplied = try c.decodeIfPresent([String].self, forKey: .notApplied) ?? []
    }

    /// `config_path` is null (not left out) for the built-in default config.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(configPath, forKey: .configPath)
        try c.encode(listeners, forKey: .listeners)
        try c.encode(reloads, forKey: .reloads)
        try c.encode(notApplied, forKey: .notApplied)
    }
}
