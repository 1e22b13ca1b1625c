import ArgumentParser
import ControlProtocol
import Foundation

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Re-read and validate the config, then swap it in; an invalid config is refused and the old one keeps running.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Why (kept in the audit log).")
    var reason: String?

    func run() throws {
        try Output.run {
            let body = try JSONEncoder().encode(ReloadRequest(reason: reason))
            let (reply, _) = try Output.call(options, .post, Endpoint.reload, body: body, as: ReloadResponse.self)
            if options.json { return Output.printJSON(reply) }
            print("reloaded \(reply.configPath ?? "built-in default"): listening on \(reply.listeners.joined(separator: ", "))")
            if !reply.notApplied.isEmpty {
                print("not applied until the next restart (the running values are kept): \(reply.notApplied.joined(separator: ", "))")
            }
        }
    }
}
