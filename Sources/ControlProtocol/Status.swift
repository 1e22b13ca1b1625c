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

    public init(configPath: String?, listeners: [String], reloads: Int) {
        self.configPath = configPath
        self.listeners = listeners
        self.reloads = reloads
    }

    enum CodingKeys: String, CodingKey {
        case listeners, reloads
        case configPath = "config_path"
    }

    /// `config_path` is null (not left out) for the built-in default config.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(configPath, forKey: .configPath)
        try c.encode(listeners, forKey: .listeners)
        try c.encode(reloads, forKey: .reloads)
    }
}
