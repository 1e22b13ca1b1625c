import Foundation
import Synchronization

/// Counters of one route (or of everything): requests by status class, bytes, latency.
public final class TrafficStats: Sendable {
    public let requests = Atomic<Int>(0)
    /// 1xx…5xx at 0…4.
    let statusClasses = HitCounters(count: 5)
    public let bytesOut = Atomic<Int>(0)
    public let latency = Histogram()

    public init() {}

    func record(status: UInt, bytes: Int, micros: Int) {
        requests.add(1, ordering: .relaxed)
        let cls = Int(status / 100) - 1
        if cls >= 0 && cls < 5 { statusClasses.increment(cls) }
        bytesOut.add(bytes, ordering: .relaxed)
        latency.record(micros: micros)
    }

    public func status(_ hundreds: Int) -> Int { statusClasses[hundreds - 1] }
}

/// Everything the server counts, for `expctl stats`, the eXpServer metrics JSON and Prometheus.
/// Atomics only on the request path; per-route stats live on the routes (`RouteStatsRegistry`).
public final class ServerStats: Sendable {
    public let startedAt = Date()
    public let connAccepted = Atomic<Int>(0)
    public let connCurrent = Atomic<Int>(0)
    public let connErrors = Atomic<Int>(0)
    public let reqCurrent = Atomic<Int>(0)
    public let reqFileServe = Atomic<Int>(0)
    public let reqReverseProxy = Atomic<Int>(0)
    public let reqRedirect = Atomic<Int>(0)
    public let reqMetrics = Atomic<Int>(0)
    public let bytesIn = Atomic<Int>(0)
    public let all = TrafficStats()
    /// Responses the server generated itself (not relayed from an upstream): eXpServer's res_code_*.
    public let generated = TrafficStats()
    let sampler = SystemSampler()
    public let connections: ConnectionStats
    public let routes: RouteStatsRegistry
    public let clients = TopClients(capacity: 256)
    /// Totals carried over from before the last restart (loaded from the state db).
    let baseline = Mutex<[String: Int]>([:])

    public init(connections: ConnectionStats, routes: RouteStatsRegistry) {
        self.connections = connections
        self.routes = routes
    }

    /// A cumulative value including what was counted before the last restart.
    func total(_ key: String, _ live: Int) -> Int { live + baseline.withLock { $0[key] ?? 0 } }

    /// The counters that continue across restarts, as counted by this process.
    func liveTotals() -> [String: Int] {
        var t: [String: Int] = [
            "conn_accepted": connAccepted.load(ordering: .relaxed),
            "conn_timeout": connections.totalTimeouts,
            "conn_refused": connections.refused.load(ordering: .relaxed),
            "conn_error": connErrors.load(ordering: .relaxed),
            "req_total": all.requests.load(ordering: .relaxed),
            "req_file_serve": reqFileServe.load(ordering: .relaxed),
            "req_reverse_proxy": reqReverseProxy.load(ordering: .relaxed),
            "req_redirect": reqRedirect.load(ordering: .relaxed),
            "req_metrics": reqMetrics.load(ordering: .relaxed),
            "traffic_total_send_bytes": all.bytesOut.load(ordering: .relaxed),
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
        case .metrics: reqMetrics.add(1, ordering: .relaxed)
        case nil: break
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
