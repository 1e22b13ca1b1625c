import ArgumentParser
import ControlProtocol
import Foundation

/// expserverd's operator CLI: noun → verb commands over the daemon's control socket.
/// Exit status: 0 success, 1 the daemon refused or failed, 3 no daemon answering, 64 bad usage.
struct Expctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expctl",
        abstract: "Control a running expserverd over its control socket.",
        version: "0.1.0 (control protocol v\(ControlProtocolVersion.current))",
        subcommands: [StatusCommand.self, ReloadCommand.self, AuditCommand.self, ACLCommand.self, UpstreamCommand.self, StatsCommand.self])
}

// The parser's own usage errors (an unknown command or option, a missing argument) get one line
// and exit 64, like every other bad argument; `--help` and `--version` print as usual.
var command: ParsableCommand
do {
    command = try Expctl.parseAsRoot(Arguments.hoistingGlobalOptions(Array(CommandLine.arguments.dropFirst())))
} catch {
    if Expctl.exitCode(for: error) == .validationFailure {
        let message = Expctl.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad usage"
        FileHandle.standardError.write(Data("expctl: \(message) (see expctl --help)\n".utf8))
        Expctl.exit(withError: ExitCode.validationFailure)
    }
    Expctl.exit(withError: error)  // --help, --version
}
// A command group without its subcommand (`expctl`, `expctl acl`) is bad usage too, not help.
let group = type(of: command).configuration
if !group.subcommands.isEmpty {
    let names = group.subcommands.compactMap { $0.configuration.commandName }.joined(separator: ", ")
    let path = command is Expctl ? "expctl" : "expctl \(group.commandName ?? "")"
    FileHandle.standardError.write(Data("expctl: \(path) needs a subcommand: \(names) (see \(path) --help)\n".utf8))
    Expctl.exit(withError: ExitCode.validationFailure)
}
do {
    try command.run()
} catch {
    Expctl.exit(withError: error)  // (the commands print their own one line first)
}
