import ArgumentParser
import ControlProtocol

/// expserverd's operator CLI. The control socket and its commands arrive with the control-plane
/// work; until then this only reports the protocol version it speaks.
@main
struct Expctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expctl",
        abstract: "Control a running expserverd over its control socket.",
        discussion: "The control plane is not implemented yet; this build only knows --version.",
        version: "0.1.0 (control protocol v\(ControlProtocolVersion.current))")

    func run() throws {
        throw ValidationError("no command given; the control-plane commands are not implemented yet")
    }
}
