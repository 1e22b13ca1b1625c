/// `GET /v1/stats[?since=EPOCH]`: totals (continuing across restarts), current values, latency
/// percentiles, per-route and per-upstream figures, top clients, and (with `since`) the change
/// over that window. `GET /v1/metrics`: the same in Prometheus text exposition.
public struct StatsResponse: Codable, Sendable, Equatable {
    public var uptimeMs: Int64
    /// Cumulative counters by name (`req_total`, `res_code_4xx`, `conn_timeout`, ...), including
    /// what was counted before the last restart.
    public var totals: [String: Int]
    public var current: [String: Int]
    /// Requests per second over the last few seconds.
    public var requestRate: Double
    public var latencyMs: Latency
    public var routes: [RouteStats]
    public var upstreams: [UpstreamInfo]
    public var topClients: [ClientStats]
    public var top4xxClients: [ClientStats]
    /// With `since`: how much each total grew since then (from the stored history).
    public var window: Window?

    public init(uptimeMs: Int64, totals: [String: Int], current: [String: Int], requestRate: Double, latencyMs: Latency,
                routes: [RouteStats], upstreams: [UpstreamInfo], topClients: [ClientStats], top4xxClients: [ClientStats], window: Window?) {
        self.uptimeMs = uptimeMs
        self.totals = totals
        self.current = current
        self.requestRate = requestRate
        self.latencyMs = latencyMs
        self.routes = routes
        self.upstreams = upstreams
        self.topClients = topClients
        self.top4xxClients = top4xxClients
        self.window = window
    }

    public struct Latency: Codable, Sendable, Equatable {
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var max: Double
        public var mean: Double
        public init(p50: Double, p90: Double, p99: Double, max: Double, mean: Double) {
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.max = max
            self.mean = mean
        }
    }

    public struct RouteStats: Codable, Sendable, Equatable {
        public var route: String
        public var requests: Int
        public var status: [String: Int]
        public var latencyMs: Latency
        /// Bytes written to clients for the route's answers (heads included), this process's.
        public var bytesSent: Int
        public init(route: String, requests: Int, status: [String: Int], latencyMs: Latency, bytesSent: Int = 0) {
            self.route = route
            self.requests = requests
            self.status = status
            self.latencyMs = latencyMs
            self.bytesSent = bytesSent
        }
        enum CodingKeys: String, CodingKey {
            case route, requests, status
            case latencyMs = "latency_ms"
            case bytesSent = "bytes_sent"
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            route = try c.decode(String.self, forKey: .route)
            requests = try c.decode(Int.self, forKey: .requests)
            status = try c.decode([String: Int].self, forKey: .status)
            latencyMs = try c.decode(Latency.self, forKey: .latencyMs)
            bytesSent = try c.decodeIfPresent(Int.self, forKey: .bytesSent) ?? 0  // (a daemon from before it was sent)
        }
    }

    /// A client in the bounded heavy-hitters table (Space-Saving): a client seen when the table is
    /// full takes the smallest slot and inherits its count, so `requests` is an upper bound (never
    /// less than the client made) and the client made at least `requests - overcount`: list
    /// clients by that before denying them. `errors_4xx` counts from when the client was tracked.
    public struct ClientStats: Codable, Sendable, Equatable {
        public var address: String
        public var requests: Int
        public var errors4xx: Int
        /// How much of `requests` may be other clients' (inherited from the slot it took).
        public var overcount: Int
        public init(address: String, requests: Int, errors4xx: Int, overcount: Int = 0) {
            self.address = address
            self.requests = requests
            self.errors4xx = errors4xx
            self.overcount = overcount
        }
        /// The requests the client certainly made.
        public var guaranteedRequests: Int { requests - overcount }
        enum CodingKeys: String, CodingKey {
            case address, requests, overcount
            case errors4xx = "errors_4xx"
        }
        /// (An older daemon's answer has no `overcount`: taken as exact.)
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            address = try c.decode(String.self, forKey: .address)
            requests = try c.decode(Int.self, forKey: .requests)
            errors4xx = try c.decode(Int.self, forKey: .errors4xx)
            overcount = try c.decodeIfPresent(Int.self, forKey: .overcount) ?? 0
        }
    }

    public struct Window: Codable, Sendable, Equatable {
        public var since: Double
        public var seconds: Double
        public var deltas: [String: Int]
        public init(since: Double, seconds: Double, deltas: [String: Int]) {
            self.since = since
            self.seconds = seconds
            self.deltas = deltas
        }
    }

    enum CodingKeys: String, CodingKey {
        case totals, current, routes, upstreams, window
        case uptimeMs = "uptime_ms"
        case requestRate = "request_rate"
        case latencyMs = "latency_ms"
        case topClients = "top_clients"
        case top4xxClients = "top_4xx_clients"
    }

    /// Every key, `window` as null without `since` (the schema's keys are always present).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(uptimeMs, forKey: .uptimeMs)
        try c.encode(totals, forKey: .totals)
        try c.encode(current, forKey: .current)
        try c.encode(requestRate, forKey: .requestRate)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encode(routes, forKey: .routes)
        try c.encode(upstreams, forKey: .upstreams)
        try c.encode(topClients, forKey: .topClients)
        try c.encode(top4xxClients, forKey: .top4xxClients)
        try c.encode(window, forKey: .window)
    }
}
