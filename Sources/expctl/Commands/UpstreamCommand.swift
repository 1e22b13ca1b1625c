import ArgumentParser
import ControlProtocol
import Foundation

struct UpstreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upstream",
        abstract: "Inspect and steer reverse-proxy upstreams (changes persist and survive restarts).",
        subcommands: [UpstreamList.self, UpstreamWeight.self, UpstreamDrain.self, UpstreamEnable.self, UpstreamDisable.self])
}

struct UpstreamList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every route's upstreams with state and counters.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try Output.run {
            let (reply, _) = try Output.call(options, .get, Endpoint.upstreams, as: UpstreamListResponse.self)
            if options.json { return Output.printJSON(reply) }
            print(Output.table(
                ["route", "address", "weight", "effective", "state", "in-flight", "requests", "failures", "last check"],
                reply.upstreams.map { u in
                    [u.route, u.address + (u.backup ? " (backup)" : ""), String(u.configuredWeight), String(u.effectiveWeight), u.state,
                     String(u.inFlight), String(u.requests), String(u.failures),
                     u.lastCheck.map { Output.timestamp($0) + ((u.lastCheckOK ?? false) ? " ok" : " failed") } ?? "-"]
                }))
        }
    }
}

/// Sends an admin change for one address and prints the result.
func upstreamChange(_ options: GlobalOptions, _ path: String, _ body: some Encodable) throws -> UpstreamChangeResponse {
    let (reply, _) = try Output.call(options, .post, path, body: try JSONEncoder().encode(body), as: UpstreamChangeResponse.self)
    return reply
}

struct UpstreamWeight: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weight", abstract: "Set an upstream's weight (0 = no new requests; `config`: the config's weight again).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "host:port, as in the config.") var address: String
    // Words, checked here: a bad number (`-5` included, which the parser would take for an option)
    // then gets expctl's one-line message, not the parser's usage text.
    @Argument(parsing: .allUnrecognized, help: "0-1000, or `config`.") var weight: [String] = []
    @Option(help: "Why (kept in the audit log).") var reason: String?

    func run() throws {
        try Output.run {
            let value: Int?
            if weight == ["config"] {
                value = nil
            } else if weight.count == 1, let n = Int(weight[0]), (0...1000).contains(n) {
                value = n
            } else {
                throw CLIError.usage("weight must be one whole number from 0 to 1000, or config, got \"\(weight.joined(separator: " "))\"")
            }
            let r = try upstreamChange(options, Endpoint.upstreamWeight, UpstreamWeightRequest(address: address, weight: value, reason: reason))
            if options.json { return Output.printJSON(r) }
            print("\(r.address): weight \(r.weight.map(String.init) ?? "from config")")
        }
    }
}

struct UpstreamDrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain", abstract: "Send no new requests to an upstream; in-flight ones finish.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "host:port, as in the config.") var address: String
    @Flag(help: "Wait until its in-flight requests reach zero (exit 0), or the timeout passes (exit 1).") var wait = false
    @Option(parsing: .unconditional, help: "With --wait: give up after this long (30s, 5m, 1h).") var timeout: String = "5m"
    @Option(help: "Why (kept in the audit log).") var reason: String?

    func run() throws {
        try Output.run {
            if (Output.parseDuration(timeout) ?? 0) <= 0 {
                throw CLIError.usage("--timeout \(timeout) is not a positive duration like 30s or 5m")
            }
            let r = try upstreamChange(options, Endpoint.upstreamDrain, UpstreamAdminRequest(address: address, reason: reason))
            if !wait {
                if options.json { return Output.printJSON(r) }
                print("\(r.address): draining (\(r.inFlight) in flight)")
                return
            }
            let deadline = Date().addingTimeInterval(Output.parseDuration(timeout) ?? 300)
            var inFlight = r.inFlight
            while true {
                let (list, _) = try Output.call(options, .get, Endpoint.upstreams, as: UpstreamListResponse.self)
                let rows = list.upstreams.filter { $0.address == r.address }  // (as the daemon spells it)
                if rows.isEmpty {
                    throw CLIError.daemon(code: "not_found", message: "\(r.address) is no longer in the config (reloaded?): its requests cannot be followed")
                }
                inFlight = rows.map(\.inFlight).max() ?? 0
                if rows.allSatisfy({ $0.state == "drained" }) { break }
                if rows.contains(where: { $0.state != "draining" && $0.state != "drained" }) {
                    throw CLIError.daemon(code: "state_changed", message: "\(r.address) is no longer draining (someone enabled it?)")
                }
                if Date() >= deadline {
                    throw CLIError.daemon(code: "timeout", message: "timed out after \(timeout): \(r.address) still has \(inFlight) request(s) in flight")
                }
                usleep(100_000)
            }
            if options.json { return Output.printJSON(UpstreamChangeResponse(address: r.address, admin: r.admin, weight: r.weight, inFlight: 0)) }
            print("\(r.address): drained")
        }
    }
}

/// `upstream enable` and `upstream disable` share everything but the endpoint and the message.
struct UpstreamAdminOptions: ParsableArguments {
    @Argument(help: "host:port, as in the config.") var address: String
    @Option(help: "Why (kept in the audit log).") var reason: String?

    func run(_ options: GlobalOptions, _ path: String, describe: (UpstreamChangeResponse) -> String) throws {
        try Output.run {
            let r = try upstreamChange(options, path, UpstreamAdminRequest(address: address, reason: reason))
            if options.json { return Output.printJSON(r) }
            print(describe(r))
        }
    }
}

struct UpstreamEnable: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Put a drained or disabled upstream back in service.")
    @OptionGroup var options: GlobalOptions
    @OptionGroup var target: UpstreamAdminOptions

    func run() throws { try target.run(options, Endpoint.upstreamEnable) { "\($0.address): active" } }
}

struct UpstreamDisable: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disable", abstract: "Take an upstream out of service at once.")
    @OptionGroup var options: GlobalOptions
    @OptionGroup var target: UpstreamAdminOptions

    func run() throws { try target.run(options, Endpoint.upstreamDisable) { "\($0.address): disabled (\($0.inFlight) in flight)" } }
}
