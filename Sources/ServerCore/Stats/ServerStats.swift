import Foundation
import Synchronization

/// Counters of one route (or of everything): requests by status class, bytes, latency.
public final class TrafficStats: Sendable {
    /// Requests, then 1xx…5xx, then bytes out.
    private let counters = StripedCounters(count: 7)
    public let latency = Histogram()

    public init() {}

    func record(status: UInt, bytes: Int, micros: Int, stripe: Int = Stripes.current()) {
        counters.add(0, stripe: stripe)
        let cls = Int(status / 100)
        if cls >= 1 && cls <= 5 { counters.add(cls, stripe: stripe) }
        counters.add(6, bytes, stripe: stripe)
        latency.record(micros: micros, stripe: stripe)
    }

    /// Bytes that went after the request was counted (a streamed body's).
    func add(bytes: Int, stripe: Int = Stripes.current()) {
        counters.add(6, bytes, stripe: stripe)
    }

    public var requests: Int { counters[0] }
    public func status(_ hundreds: Int) -> Int { hundreds >= 1 && hundreds <= 5 ? counters[hundreds] : 0 }
    public var bytesOut: Int { counters[6] }
}

/// Everything the server counts, for `expctl stats`, the eXpServer metrics JSON and Prometheus.
/// Striped atomics only on the request path (`StripedCounters`); per-route stats live on the
/// routes (`RouteStatsRegistry`).
public final class ServerStats: Sendable {
    public let startedAt = Date()
    public let connAccepted = StripedCounter()
    public let connCurrent = StripedCounter()
    public let connErrors = StripedCounter()
    public let reqCurrent = StripedCounter()
    public let reqFileServe = StripedCounter()
    public let reqReverseProxy = StripedCounter()
    public let reqRedirect = StripedCounter()
    public let reqMetrics = StripedCounter()
    public let bytesIn = StripedCounter()
    public let all = TrafficStats()
    /// Responses the server generated itself (not relayed from an upstream): eXpServer's res_code_*.
    public let generated = TrafficStats()
    let sampler = SystemSampler()
    public let connections: ConnectionStats
    public let routes: RouteStatsRegistry
    public let clients = TopClients(capacity: 256)
    /// Totals carried over from before the last restart (loaded from the state db).
    let baseline = Mutex<[String: Int]>([:])

    /// The event loops running (from the start: a reload cannot change `workers`).
    public let workers: Int

    public init(connections: ConnectionStats, routes: RouteStatsRegistry, workers: Int = 1) {
        self.connections = connections
        self.routes = routes
        self.workers = workers
    }

    /// A cumulative value including what was counted before the last restart (for the JSON;
    /// Prometheus gets this process's counts only: `MetricsRenderer`).
    func total(_ key: String, _ live: Int) -> Int { live + baseline.withLock { $0[key] ?? 0 } }

    /// The counters that continue across restarts, as counted by this process.
    func liveTotals() -> [String: Int] {
        var t: [String: Int] = [
            "conn_accepted": connAccepted.load(ordering: .relaxed),
            "conn_timeout": connections.totalTimeouts,
            "conn_refused": connections.refused.load(ordering: .relaxed),
            "conn_error": connErrors.load(ordering: .relaxed),
            "req_total": all.requests,
            "req_file_serve": reqFileServe.load(ordering: .relaxed),
            "req_reverse_proxy": reqReverseProxy.load(ordering: .relaxed),
            "req_redirect": reqRedirect.load(ordering: .relaxed),
            "req_metrics": reqMetrics.load(ordering: .relaxed),
            "traffic_total_send_bytes": all.bytesOut,
            "traffic_total_recv_bytes": bytesIn.load(ordering: .relaxed),
        ]
        for c in 1...5 {
            t["res_code_\(c)xx"] = generated.status(c)
            t["res_all_\(c)xx"] = all.status(c)
        }
        for kind in ConnectionTimeouts.Kind.allCases { t["conn_timeout_\(kind.rawValue)"] = connections.timeouts(kind) }
        return t
    }

    /// Cumulative totals: this process's counts plus the baseline loaded at start.
    public func totals() -> [String: Int] {
        let base = baseline.withLock { $0 }
        return liveTotals().merging(base) { live, old in live + old }
    }

    /// Installs the totals saved by the previous run (called once at start).
    public func setBaseline(_ totals: [String: Int]) { baseline.withLock { $0 = totals } }

    func countType(_ action: RouteAction?) {
        switch action {
        case .fileServe: reqFileServe.add(1, ordering: .relaxed)
        case .reverseProxy: reqReverseProxy.add(1, ordering: .relaxed)
        case .redirect: reqRedirect.add(1, ordering: .relaxed)
        // Counted where the answer is made (`RequestDispatcher.metrics`, which also answers a
        // route-less server's `/api`): counting here too counted each metrics request twice.
        case .metrics, nil: break
        }
    }
}

/// Per-route traffic stats by a stable label (`servers[N] REQ_PATH`), kept across reloads.
public final class RouteStatsRegistry: Sendable {
    private let routes = Mutex<[String: TrafficStats]>([:])

    public init() {}

    func stats(for label: String) -> TrafficStats {
        routes.withLock { r in
            if let s = r[label] { return s }
            let s = TrafficStats()
            r[label] = s
            return s
        }
    }

    public var all: [(String, TrafficStats)] { routes.withLock { $0.sorted { $0.key < $1.key } } }
}
