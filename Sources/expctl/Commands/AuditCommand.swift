import ArgumentParser
import ControlProtocol
import Foundation

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Show the audit log of control-plane actions (and refused requests).")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Only records newer than this (30s, 15m, 1h, 7d).")
    var since: String?

    @Option(help: "At most this many records.")
    var limit: Int = 1000

    func run() throws {
        try Output.run {
            if let since, Output.parseDuration(since) == nil {
                throw CLIError.usage("--since \(since) is not a duration like 30s, 15m, 1h or 7d")
            }
            if limit < 1 || limit > 100_000 { throw CLIError.usage("--limit must be between 1 and 100000") }
            var path = Endpoint.audit + "?limit=\(limit)"
            if let since, let seconds = Output.parseDuration(since) {
                path += "&since=\(Int(Date().timeIntervalSince1970 - seconds))"
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
