import ArgumentParser
import ControlProtocol
import Foundation

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Show the audit log of control-plane actions (and refused requests).")

    @OptionGroup var options: GlobalOptions

    // Words checked in `run` (`.unconditional` takes `-5m` as the value): a bad one gets one line.
    @Option(parsing: .unconditional, help: "Only records newer than this (30s, 15m, 1h, 7d).")
    var since: String?

    @Option(parsing: .unconditional, help: "At most this many records (1-100000).")
    var limit: String = "1000"

    func run() throws {
        try Output.run {
            if let since, Output.parseDuration(since) == nil {
                throw CLIError.usage("--since \(since) is not a duration like 30s, 15m, 1h or 7d")
            }
            guard let count = Int(limit), (1...100_000).contains(count) else {
                throw CLIError.usage("--limit must be a whole number between 1 and 100000, got \"\(limit)\"")
            }
            var path = Endpoint.audit + "?limit=\(count)"
            if let since, let seconds = Output.parseDuration(since) {
                path += "&since=\(Output.epoch(ago: seconds))"
            }
            let (reply, _) = try Output.call(options, .get, path, as: AuditResponse.self)
            if options.json { return Output.printJSON(reply) }
            print(Output.table(["time", "uid", "pid", "action", "result", "reason", "arguments"], reply.entries.map { e in
                [Output.timestamp(e.time), e.uid.map(String.init) ?? "-", e.pid.map(String.init) ?? "-", e.action, e.result,
                 e.reason ?? "", e.arguments]
            }))
        }
    }
}
