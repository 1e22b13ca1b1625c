import ArgumentParser
import ControlProtocol

/// expserverd's operator CLI: noun → verb commands over the daemon's control socket.
/// Exit status: 0 success, 1 the daemon refused or failed, 3 no daemon answering, 64 bad usage.
struct Expctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expctl",
        abstract: "Control a running expserverd over its control socket.",
        version: "0.1.0 (control protocol v\(ControlProtocolVersion.current))",
        subcommands: [StatusCommand.self, ReloadCommand.self, AuditCommand.self, ACLCommand.self, UpstreamCommand.self, StatsCommand.self])
}

Expctl.main()
