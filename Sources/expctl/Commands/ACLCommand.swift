import ArgumentParser
import ControlProtocol
import Foundation

struct ACLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl",
        abstract: "Manage the global access list (takes effect at once, persists, survives restarts).",
        subcommands: [ACLDeny.self, ACLAllow.self, ACLRemove.self, ACLList.self, ACLCheck.self])
}

/// `acl deny` and `acl allow` share everything but the action.
struct ACLPutOptions: ParsableArguments {
    @Argument(help: "An IPv4/IPv6 address or CIDR prefix (1.2.3.4, 10.0.0.0/8, 2001:db8::/48).")
    var target: String

    // `.unconditional`: `--ttl -5m` is this option's (bad) value, refused in one line below.
    @Option(parsing: .unconditional, help: "Expire after this long (30s, 15m, 1h, 7d); default: never.")
    var ttl: String?

    @Option(help: "Why (kept with the entry and in the audit log).")
    var reason: String?

    @Flag(help: "Allow prefixes wider than /8 (IPv4) or /32 (IPv6), or IPv6 ones that cover all of IPv4 (::/80).")
    var force = false

    func run(_ action: String, _ options: GlobalOptions) throws {
        try Output.run {
            // Checked here rather than in `validate()`, so the refusal is one line (no usage text).
            try checkPrefix(target)
            if let ttl, !(Output.parseDuration(ttl).map { $0 > 0 } ?? false) {
                throw CLIError.usage("--ttl \(ttl) is not a positive duration like 30s, 15m, 1h or 7d")
            }
            if let ttl, let seconds = Output.parseDuration(ttl), seconds > ACLPutRequest.maxTTLSeconds {
                throw CLIError.usage("--ttl \(ttl) is longer than 100 years (36525d); leave --ttl out for no expiry")
            }
            let request = ACLPutRequest(cidr: target, action: action, ttlSeconds: ttl.flatMap(Output.parseDuration), reason: reason,
                                        force: force ? true : nil)
            let (reply, _) = try Output.call(options, .post, Endpoint.acl, body: try JSONEncoder().encode(request), as: ACLPutResponse.self)
            if options.json { return Output.printJSON(reply) }
            let until = reply.entry.expiresAt.map { " until \(Output.timestamp($0))" } ?? ""
            print("\(reply.replaced ? "replaced" : "added"): \(action) \(reply.entry.cidr)\(until)")
        }
    }
}

/// A typo in an address or prefix is bad usage, refused before the daemon is asked (with the
/// daemon's own parser and message).
func checkPrefix(_ target: String) throws {
    guard AddressText.prefix(Substring(target)) != nil else {
        throw CLIError.usage("\"\(target)\" is not a valid IP address or CIDR")
    }
}

struct ACLDeny: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deny", abstract: "Deny an address or prefix.")
    @OptionGroup var options: GlobalOptions
    @OptionGroup var entry: ACLPutOptions
    func run() throws { try entry.run("deny", options) }
}

struct ACLAllow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allow", abstract: "Allow an address or prefix (the most specific entry decides).")
    @OptionGroup var options: GlobalOptions
    @OptionGroup var entry: ACLPutOptions
    func run() throws { try entry.run("allow", options) }
}

struct ACLRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a dynamic entry.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The entry's address or prefix, as listed.") var target: String
    @Option(help: "Why (kept in the audit log).") var reason: String?

    func run() throws {
        try Output.run {
            try checkPrefix(target)
            let body = try JSONEncoder().encode(ACLRemoveRequest(cidr: target, reason: reason))
            let (reply, _) = try Output.call(options, .post, Endpoint.aclRemove, body: body, as: ACLRemoveResponse.self)
            if options.json { return Output.printJSON(reply) }
            print("removed: \(reply.removed)")
        }
    }
}

struct ACLList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the entries with their hits.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Include expired entries.") var expired = false

    func run() throws {
        try Output.run {
            let (reply, _) = try Output.call(options, .get, Endpoint.acl + (expired ? "?expired=1" : ""), as: ACLListResponse.self)
            if options.json { return Output.printJSON(reply) }
            print(Output.table(["cidr", "action", "source", "hits", "expires", "reason"], reply.entries.map { e in
                [e.cidr, e.action, e.source, String(e.hits),
                 e.expiresAt.map { (e.expired ? "expired " : "") + Output.timestamp($0) } ?? "never", e.reason ?? ""]
            }))
        }
    }
}

struct ACLCheck: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Which entry decides for an address, and why.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "An IPv4 or IPv6 address.") var ip: String

    func run() throws {
        try Output.run {
            guard AddressText.address(Substring(ip)) != nil else {
                throw CLIError.usage("\"\(ip)\" is not an IPv4 or IPv6 address")
            }
            let query = ip.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: ".:"))) ?? ip
            let (reply, _) = try Output.call(options, .get, Endpoint.aclCheck + "?ip=\(query)", as: ACLCheckResponse.self)
            if options.json { return Output.printJSON(reply) }
            print(Output.printable(reply.explanation))
        }
    }
}
