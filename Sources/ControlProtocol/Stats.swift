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
        public init(route: String, requests: Int, status: [String: Int], latencyMs: Latency) {
            self.route = route
            self.requests = requests
            self.status = status
            self.latencyMs = latencyMs
        }
        enum CodingKeys: String, CodingKey {
            case route, requests, status
            case latencyMs = "latency_ms"
        }
    }

    public struct ClientStats: Codable, Sendable, Equatable {
        public var address: String
        public var requests: Int
        public var errors4xx: Int
        public init(address: String, requests: Int, errors4xx: Int) {
            self.address = address
            self.requests = requests
            self.errors4xx = errors4xx
        }
        enum CodingKeys: String, CodingKey {
            case address, requests
            case errors4xx = "errors_4xx"
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
}
