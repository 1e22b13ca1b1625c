/// Upstreams of reverse_proxy routes over the control socket.
///
/// `GET /v1/upstreams` → `UpstreamListResponse`; `POST /v1/upstreams/weight` with
/// `UpstreamWeightRequest`; `POST /v1/upstreams/{drain,enable,disable}` with `UpstreamAdminRequest`.
/// Every POST answers `UpstreamChangeResponse`. Addresses are `host:port` as in the config.
public struct UpstreamInfo: Codable, Sendable, Equatable {
    /// `servers[N] REQ_PATH`: which route lists this upstream.
    public var route: String
    public var address: String
    public var configuredWeight: Int
    public var effectiveWeight: Int
    /// `active`, `draining`, `drained`, `disabled` or `down`.
    public var state: String
    public var backup: Bool
    public var inFlight: Int
    public var requests: Int
    public var failures: Int
    public var healthTransitions: Int
    public var lastCheck: Double?
    public var lastCheckOK: Bool?
    /// Response time percentiles through this upstream, in milliseconds.
    public var latencyP50Ms: Double?
    public var latencyP99Ms: Double?

    public init(route: String, address: String, configuredWeight: Int, effectiveWeight: Int, state: String, backup: Bool,
                inFlight: Int, requests: Int, failures: Int, healthTransitions: Int, lastCheck: Double?, lastCheckOK: Bool?,
                latencyP50Ms: Double? = nil, latencyP99Ms: Double? = nil) {
        self.latencyP50Ms = latencyP50Ms
        self.latencyP99Ms = latencyP99Ms
        self.route = route
        self.address = address
        self.configuredWeight = configuredWeight
        self.effectiveWeight = effectiveWeight
        self.state = state
        self.backup = backup
        self.inFlight = inFlight
        self.requests = requests
        self.failures = failures
        self.healthTransitions = healthTransitions
        self.lastCheck = lastCheck
        self.lastCheckOK = lastCheckOK
    }

    enum CodingKeys: String, CodingKey {
        case route, address, state, backup, requests, failures
        case configuredWeight = "configured_weight"
        case effectiveWeight = "effective_weight"
        case inFlight = "in_flight"
        case healthTransitions = "health_transitions"
        case lastCheck = "last_check"
        case lastCheckOK = "last_check_ok"
        case latencyP50Ms = "latency_p50_ms"
        case latencyP99Ms = "latency_p99_ms"
    }

    /// Every key, nil ones as null (`last_check` before the first check); decoding still
    /// accepts them left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(route, forKey: .route)
        try c.encode(address, forKey: .address)
        try c.encode(configuredWeight, forKey: .configuredWeight)
        try c.encode(effectiveWeight, forKey: .effectiveWeight)
        try c.encode(state, forKey: .state)
        try c.encode(backup, forKey: .backup)
        try c.encode(inFlight, forKey: .inFlight)
        try c.encode(requests, forKey: .requests)
        try c.encode(failures, forKey: .failures)
        try c.encode(healthTransitions, forKey: .healthTransitions)
        try c.encode(lastCheck, forKey: .lastCheck)
        try c.encode(lastCheckOK, forKey: .lastCheckOK)
        try c.encode(latencyP50Ms, forKey: .latencyP50Ms)
        try c.encode(latencyP99Ms, forKey: .latencyP99Ms)
    }
}

public struct UpstreamListResponse: Codable, Sendable, Equatable {
    public var upstreams: [UpstreamInfo]
    public init(upstreams: [UpstreamInfo]) { self.upstreams = upstreams }
}

/// `weight`: 0-1000, or null for the config's weight again (the operator's override cleared).
/// The field is required either way: a request that leaves it out is refused, not a reset.
public struct UpstreamWeightRequest: Codable, Sendable, Equatable {
    public static let fields: Set<String> = ["address", "weight", "reason"]
    public var address: String
    public var weight: Int?
    public var reason: String?
    public init(address: String, weight: Int?, reason: String? = nil) {
        self.address = address
        self.weight = weight
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case address, weight, reason }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decode(String.self, forKey: .address)
        guard c.contains(.weight) else {
            throw DecodingError.keyNotFound(CodingKeys.weight, .init(codingPath: [], debugDescription: "weight is required (null: the config's)"))
        }
        weight = try c.decodeNil(forKey: .weight) ? nil : c.decode(Int.self, forKey: .weight)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(address, forKey: .address)
        try c.encode(weight, forKey: .weight)  // null, not left out, for the config's weight
        try c.encodeIfPresent(reason, forKey: .reason)
    }
}

public struct UpstreamAdminRequest: Codable, Sendable, Equatable {
    public static let fields: Set<String> = ["address", "reason"]
    public var address: String
    public var reason: String?
    public init(address: String, reason: String? = nil) {
        self.address = address
        self.reason = reason
    }
}

public struct UpstreamChangeResponse: Codable, Sendable, Equatable {
    public var address: String
    /// The admin state now: `active`, `draining` or `disabled`.
    public var admin: String
    /// The operator's weight, nil when the config's applies.
    public var weight: Int?
    public var inFlight: Int

    public init(address: String, admin: String, weight: Int?, inFlight: Int) {
        self.address = address
        self.admin = admin
        self.weight = weight
        self.inFlight = inFlight
    }

    enum CodingKeys: String, CodingKey {
        case address, admin, weight
        case inFlight = "in_flight"
    }

    /// `weight` is null, not left out, when the config's applies; decoding accepts either.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(address, forKey: .address)
        try c.encode(admin, forKey: .admin)
        try c.encode(weight, forKey: .weight)
        try c.encode(inFlight, forKey: .inFlight)
    }
}
