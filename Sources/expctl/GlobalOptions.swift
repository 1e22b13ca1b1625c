import ArgumentParser
import ControlProtocol
import Foundation

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Control socket of the daemon (default: $EXPCTL_SOCKET, else \(ControlDefaults.socketPath())).")
    var socket: String?

    @Flag(help: "Print the daemon's answer as JSON (stable schema, see README).")
    var json = false

    var socketPath: String {
        if let socket { return socket }
        if let env = ProcessInfo.processInfo.environment[ControlDefaults.socketEnvironmentVariable], !env.isEmpty { return env }
        return ControlDefaults.socketPath()
    }

    var client: ControlClient { ControlClient(socketPath: socketPath) }
}
