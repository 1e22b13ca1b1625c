import Foundation

/// The statistics as eXpServer's metrics JSON (compat 6.1: one flat object, its exact keys) and
/// as Prometheus text exposition. Values are read from the atomics at the moment of the call.
/// The JSON's totals continue across restarts (the persisted baseline plus this process's
/// counts); Prometheus counters are this process's only, from 0 at start, as nginx, HAProxy
/// and the client libraries export them: a baseline saved every `stats.flush_ms` makes a total
/// go down after a `kill -9`, and `rate()`/`increase()` read any decrease as a reset, adding
/// the whole history as one spike. `expserver_start_time_seconds` shows the restarts.
enum MetricsRenderer {
    static func expserverJSON(stats: ServerStats, config: RuntimeConfig, sampler: SystemSampler) -> String {
        let all = stats.all, generated = stats.generated
        let ram = sampler.machineRAM()
        let workers = sampler.workerCPUPercents(expected: stats.workers)
        let fields: [(String, String)] = [
            ("server_name", jsonString(config.serverName)),
            ("pid", String(getpid())),
            ("workers", String(stats.workers)),
            ("uptime_msec", String(Int(Date().timeIntervalSince(stats.startedAt) * 1000))),
            ("sys_cpu_usage_percent", number(sampler.machineCPUPercent())),
            ("sys_ram_usage_bytes", String(ram.used)),
            ("sys_ram_total_bytes", String(ram.total)),
            ("workers_cpu_usage_percent", "[" + workers.map(number).joined(separator: ",") + "]"),
            ("workers_ram_usage_bytes", String(sampler.processRSS())),
            ("conn_current", String(stats.connCurrent.load(ordering: .relaxed))),
            ("conn_accepted", String(stats.total("conn_accepted", stats.connAccepted.load(ordering: .relaxed)))),
            ("conn_error", String(stats.connErrors.load(ordering: .relaxed))),
            ("conn_timeout", String(stats.total("conn_timeout", stats.connections.totalTimeouts))),
            ("conn_accepted_error", String(stats.connections.refused.load(ordering: .relaxed))),
            ("req_current", String(stats.reqCurrent.load(ordering: .relaxed))),
            ("req_total", String(stats.total("req_total", all.requests))),
            ("req_file_serve", String(stats.total("req_file_serve", stats.reqFileServe.load(ordering: .relaxed)))),
            ("req_reverse_proxy", String(stats.total("req_reverse_proxy", stats.reqReverseProxy.load(ordering: .relaxed)))),
            ("req_redirect", String(stats.total("req_redirect", stats.reqRedirect.load(ordering: .relaxed)))),
            ("res_avg_res_time_msec", String(Int(all.latency.mean / 1000))),
            ("res_peak_res_time_msec", String(all.latency.max / 1000)),
            ("res_code_1xx", String(stats.total("res_code_1xx", generated.status(1)))),
            ("res_code_2xx", String(stats.total("res_code_2xx", generated.status(2)))),
            ("res_code_3xx", String(stats.total("res_code_3xx", generated.status(3)))),
            ("res_code_4xx", String(stats.total("res_code_4xx", generated.status(4)))),
            ("res_code_5xx", String(stats.total("res_code_5xx", generated.status(5)))),
            ("traffic_total_send_bytes", String(stats.total("traffic_total_send_bytes", all.bytesOut))),
            ("traffic_total_recv_bytes", String(stats.total("traffic_total_recv_bytes", stats.bytesIn.load(ordering: .relaxed)))),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// The text exposition format's media type (a scraper may reject another).
    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    static func prometheus(stats: ServerStats, config: RuntimeConfig) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        metric("expserver_connections_accepted_total", "counter", "Client connections accepted.",
               [("", stats.connAccepted.load(ordering: .relaxed))])
        metric("expserver_connections_current", "gauge", "Client connections open now.", [("", stats.connCurrent.load(ordering: .relaxed))])
        metric("expserver_connections_refused_total", "counter", "Connections refused by limits.max_connections.",
               [("", stats.connections.refused.load(ordering: .relaxed))])
        metric("expserver_connection_timeouts_total", "counter", "Connections closed by a timeout, by kind.",
               ConnectionTimeouts.Kind.allCases.map { ("{kind=\"\($0.rawValue)\"}", stats.connections.timeouts($0)) })
        metric("expserver_slow_head_read_pauses_total", "counter", "Reads paused for request heads arriving slowly (slowloris pacing).",
               [("", stats.connections.slowHeadPauses.load(ordering: .relaxed))])
        metric("expserver_requests_total", "counter", "Requests by route type.", [
            ("{type=\"file_serve\"}", stats.reqFileServe.load(ordering: .relaxed)),
            ("{type=\"reverse_proxy\"}", stats.reqReverseProxy.load(ordering: .relaxed)),
            ("{type=\"redirect\"}", stats.reqRedirect.load(ordering: .relaxed)),
            ("{type=\"metrics\"}", stats.reqMetrics.load(ordering: .relaxed)),
        ])
        metric("expserver_requests_in_flight", "gauge", "Requests being answered now.", [("", stats.reqCurrent.load(ordering: .relaxed))])
        metric("expserver_responses_total", "counter", "Responses by status class.",
               (1...5).map { ("{class=\"\($0)xx\"}", stats.all.status($0)) })
        metric("expserver_sent_bytes_total", "counter", "Response bytes sent to clients.",
               [("", stats.all.bytesOut)])
        metric("expserver_received_bytes_total", "counter", "Request bytes received from clients.",
               [("", stats.bytesIn.load(ordering: .relaxed))])
        out += "# HELP expserver_start_time_seconds When this process started counting (Unix time): the counters above start at 0 then.\n"
        out += "# TYPE expserver_start_time_seconds gauge\nexpserver_start_time_seconds \(stats.startedAt.timeIntervalSince1970)\n"
        histogram(&out, "expserver_request_duration_seconds", "Time from a request's head to its answer, by route.",
                  stats.routes.all.map { ("route=\"\(escape($0.0))\"", $0.1.latency) })
        var upstreamRequests: [(String, Int)] = [], failures: [(String, Int)] = [], inFlight: [(String, Int)] = [], down: [(String, Int)] = []
        var seen = Set<String>()
        let now = Date().timeIntervalSince1970
        // Available: some route would send it new requests now (its effective weight there > 0).
        var available = Set<String>()
        for (_, route) in UpstreamControl.proxyRoutes(config) {
            for m in route.group.members where route.group.effectiveWeight(m, now: now) > 0 { available.insert(m.state.address) }
        }
        for state in config.upstreams.all.sorted(by: { $0.address < $1.address }) where seen.insert(state.address).inserted {
            let l = "{upstream=\"\(escape(state.address))\"}"
            upstreamRequests.append((l, state.requests.load(ordering: .relaxed)))
            failures.append((l, state.failures.load(ordering: .relaxed)))
            inFlight.append((l, state.inFlight.load(ordering: .relaxed)))
            down.append((l, available.contains(state.address) ? 1 : 0))
        }
        metric("expserver_upstream_requests_total", "counter", "Requests sent to each upstream.", upstreamRequests)
        metric("expserver_upstream_failures_total", "counter", "Failed attempts per upstream.", failures)
        metric("expserver_upstream_in_flight", "gauge", "Requests in flight per upstream.", inFlight)
        metric("expserver_upstream_available", "gauge", "1 when the upstream takes new requests.", down)
        histogram(&out, "expserver_upstream_response_seconds", "Time from sending a request upstream to the end of its response.",
                  config.upstreams.all.sorted(by: { $0.address < $1.address }).map { ("upstream=\"\(escape($0.address))\"", $0.latency) })
        return out
    }

    /// Prometheus `le` bounds: every doubling from 256 µs to 16.8 s. They are the histogram's
    /// own bucket boundaries (decimal bounds such as 0.0005 fall inside a bucket, which would be
    /// counted under the next `le` only), so each `le` counts exactly the requests that took less.
    static let bucketMicros: [Int] = (8...24).map { 1 << $0 }

    static func histogram(_ out: inout String, _ name: String, _ help: String, _ series: [(String, Histogram)]) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (labels, h) in series {
            // One snapshot: the buckets, +Inf and _count agree however fast requests are recorded.
            let snapshot = h.snapshot()
            let count = snapshot.count
            for (le, c) in zip(bucketMicros, snapshot.cumulative(below: bucketMicros)) {
                out += "\(name)_bucket{\(labels),le=\"\(Double(le) / 1_000_000)\"} \(c)\n"
            }
            out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(count)\n"
            out += "\(name)_sum{\(labels)} \(Double(snapshot.sum) / 1_000_000)\n"
            out += "\(name)_count{\(labels)} \(count)\n"
        }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func jsonString(_ s: String) -> String {
        let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func number(_ d: Double) -> String { d == d.rounded() ? String(Int(d)) : String(d) }
}
