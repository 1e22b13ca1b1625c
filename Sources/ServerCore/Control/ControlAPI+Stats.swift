import ControlProtocol
import Foundation

/// `/v1/stats` (JSON for `expctl stats`) and `/v1/metrics` (Prometheus text).
extension ControlAPI {
    static func registerStats(on router: inout ControlRouter, daemon: Daemon) {
        router.register(.get, Endpoint.stats) { request in
            var since: Double? = nil
            if let s = request.query["since"] {
                guard let v = Double(s), v >= 0 else { throw ControlFailure(.badRequest, .badRequest, "since must be epoch seconds, got \"\(s)\"") }
                since = v
            }
            return .json(try StatsReport.build(daemon: daemon, since: since))
        }
        router.register(.get, Endpoint.metrics) { _ in
            let text = MetricsRenderer.prometheus(stats: daemon.http.state.stats, config: daemon.config)
            return ControlReply(status: .ok, body: Data(text.utf8), contentType: MetricsRenderer.prometheusContentType)
        }
    }
}

/// Builds `StatsResponse` from the live counters (and the stored history for `since`).
enum StatsReport {
    static func latency(_ h: Histogram) -> StatsResponse.Latency {
        StatsResponse.Latency(
            p50: Double(h.quantile(0.5)) / 1000, p90: Double(h.quantile(0.9)) / 1000, p99: Double(h.quantile(0.99)) / 1000,
            max: Double(h.max) / 1000, mean: (h.mean / 10).rounded() / 100)
    }

    /// With its over-count: without it a client that made one request could show as many as the
    /// slot it took had counted.
    static func client(_ e: TopClients.Entry) -> StatsResponse.ClientStats {
        StatsResponse.ClientStats(address: e.address.description, requests: e.requests, errors4xx: e.errors4xx, overcount: e.overcount)
    }

    static func build(daemon: Daemon, since: Double?) throws -> StatsResponse {
        let stats = daemon.http.state.stats
        let totals = stats.totals()
        var window: StatsResponse.Window? = nil
        if let since {
            let now = Date().timeIntervalSince1970
            // The newest sample at or before `since`. When `since` is older than the history kept
            // (`stats.retention_hours`, or a new state db), the oldest point known instead: the
            // oldest sample, or this process's start with the totals it loaded; the window then
            // starts later than asked and says so (the totals are not the change since `since`).
            var start = try daemon.store.statsSample(atOrBefore: since)
            if start == nil {
                let started = (time: stats.startedAt.timeIntervalSince1970, totals: stats.baseline.withLock { $0 })
                let oldest = try daemon.store.oldestStatsSample()
                start = oldest.map { $0.time < started.time ? $0 : started } ?? started
            }
            let (from, base) = start!
            var deltas: [String: Int] = [:]
            for (key, value) in totals { deltas[key] = value - (base[key] ?? 0) }
            window = StatsResponse.Window(since: from, seconds: now - from, deltas: deltas)
        }
        let top = stats.clients.top(10)
        return StatsResponse(
            uptimeMs: Int64(Date().timeIntervalSince(stats.startedAt) * 1000), totals: totals,
            current: [
                "conn_current": stats.connCurrent.load(ordering: .relaxed), "req_current": stats.reqCurrent.load(ordering: .relaxed),
            ],
            requestRate: daemon.statsRecorder.requestRate(), latencyMs: latency(stats.all.latency),
            routes: stats.routes.all.map { label, t in
                StatsResponse.RouteStats(
                    route: label, requests: t.requests,
                    status: Dictionary(uniqueKeysWithValues: (1...5).map { ("\($0)xx", t.status($0)) }), latencyMs: latency(t.latency),
                    bytesSent: t.bytesOut)
            },
            upstreams: UpstreamControl.list(daemon.config), topClients: top.byRequests.map(client), top4xxClients: top.by4xx.map(client),
            window: window)
    }
}
