import ArgumentParser
import ControlProtocol

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the daemon's version, pid, uptime, config, workers and listeners.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try Output.run {
            let (status, _) = try Output.call(options, .get, Endpoint.status, as: StatusResponse.self)
            if options.json { return Output.printJSON(status) }
            print(Output.table(["field", "value"], [
                ["version", status.version],
                ["pid", String(status.pid)],
                ["uptime", Output.duration(ms: status.uptimeMs)],
                ["config", status.configPath ?? "(built-in default)"],
                ["workers", String(status.workers)],
                ["listeners", status.listeners.joined(separator: ", ")],
                ["state db", status.stateDB],
                ["socket", status.controlSocket],
                ["reloads", String(status.reloads)],
            ]))
        }
    }
}
