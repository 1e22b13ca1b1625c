import ArgumentParser
import ControlProtocol
import Foundation

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Totals (kept across restarts), rates, latency percentiles, routes, upstreams, top clients.")

    @OptionGroup var options: GlobalOptions
    @Flag(help: "Refresh every second until interrupted.") var watch = false
    @Option(parsing: .unconditional, help: "Also show what changed over this window (30s, 15m, 1h, 7d).") var since: String?
    @Flag(help: "Per-route figures.") var routes = false
    @Flag(help: "Per-upstream figures.") var upstreams = false
    @Flag(help: "Top clients by requests and by 4xx answers.") var clients = false

    func run() throws {
        try Output.run {
            var seconds: Double? = nil
            if let since {
                guard let s = Output.parseDuration(since), s > 0 else {
                    throw CLIError.usage("--since \(since) is not a duration like 30s, 15m, 1h or 7d")
                }
                seconds = s
            }
            repeat {
                // Computed each round: with --watch the window slides instead of growing.
                let from = seconds.map { Output.epoch(ago: $0) }
                let path = Endpoint.stats + (from.map { "?since=\($0)" } ?? "")
                let (stats, _) = try Output.call(options, .get, path, as: StatsResponse.self)
                if options.json {
                    Output.printJSON(stats)
                } else {
                    if watch { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                    print(render(stats, asked: seconds))
                }
                if watch {
                    fflush(nil)  // each round as it is made, also into a pipe or file (stdout is buffered there)
                    FileHandle.standardOutput.synchronizeFile()
                    sleep(1)
                }
            } while watch
        }
    }

    /// `asked`: the window asked for (seconds).
    func render(_ s: StatsResponse, asked: Double? = nil) -> String {
        let t = s.totals
        func v(_ k: String) -> String { String(t[k] ?? 0) }
        var out = Output.table(["metric", "value"], [
            ["uptime", Output.duration(ms: s.uptimeMs)],
            ["requests (total)", v("req_total")],
            ["requests/s", String(s.requestRate)],
            ["in flight", String(s.current["req_current"] ?? 0)],
            ["connections open", String(s.current["conn_current"] ?? 0)],
            ["connections accepted", v("conn_accepted")],
            ["timeouts", v("conn_timeout")],
            ["responses 2xx/3xx/4xx/5xx", "\(v("res_all_2xx")) / \(v("res_all_3xx")) / \(v("res_all_4xx")) / \(v("res_all_5xx"))"],
            ["bytes out / in", "\(v("traffic_total_send_bytes")) / \(v("traffic_total_recv_bytes"))"],
            ["latency p50/p90/p99/max ms", "\(s.latencyMs.p50) / \(s.latencyMs.p90) / \(s.latencyMs.p99) / \(s.latencyMs.max)"],
        ])
        if let w = s.window {
            out += "\n\nlast \(Int(w.seconds))s: \(w.deltas["req_total"] ?? 0) requests, \(w.deltas["res_all_4xx"] ?? 0) 4xx, \(w.deltas["res_all_5xx"] ?? 0) 5xx"
            if let asked, w.seconds < asked - 1 {
                out += " (the history kept starts then; \(Int(asked))s asked)"
            }
        }
        if routes {
            out += "\n\n" + Output.table(["route", "requests", "2xx", "3xx", "4xx", "5xx", "p50 ms", "p99 ms"], s.routes.map { r in
                [r.route, String(r.requests), String(r.status["2xx"] ?? 0), String(r.status["3xx"] ?? 0), String(r.status["4xx"] ?? 0),
                 String(r.status["5xx"] ?? 0), String(r.latencyMs.p50), String(r.latencyMs.p99)]
            })
        }
        if upstreams {
            out += "\n\n" + Output.table(["route", "address", "state", "in-flight", "requests", "failures"], s.upstreams.map { u in
                [u.route, u.address, u.state, String(u.inFlight), String(u.requests), String(u.failures)]
            })
        }
        if clients {
            // The requests a client certainly made, and the table's upper bound when it differs.
            func requests(_ c: StatsResponse.ClientStats) -> String {
                c.overcount > 0 ? "\(c.guaranteedRequests) (≤\(c.requests))" : String(c.requests)
            }
            out += "\n\n" + Output.table(["top client", "requests", "4xx"], s.topClients.map { [$0.address, requests($0), String($0.errors4xx)] })
            out += "\n\n" + Output.table(["top 4xx client", "requests", "4xx"], s.top4xxClients.map { [$0.address, requests($0), String($0.errors4xx)] })
        }
        return out
    }
}
