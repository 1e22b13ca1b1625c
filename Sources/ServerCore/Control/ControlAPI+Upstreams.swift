import ControlProtocol
import Foundation

/// `/v1/upstreams…`: list, weight, drain, enable, disable. An address no reverse_proxy route
/// lists is an error (404), not a no-op. Changes are committed (with their audit record) before
/// they are answered, apply to every route that lists the address, and are re-applied after
/// restarts and reloads (`UpstreamControl.restore`). Draining, disabling or weighting an upstream
/// 0 also closes the idle keep-alive connections to it (`IdleConnectionSweep`).
extension ControlAPI {
    static func registerUpstreams(on router: inout ControlRouter, daemon: Daemon) {
        router.register(.get, Endpoint.upstreams) { _ in
            .json(UpstreamListResponse(upstreams: UpstreamControl.list(daemon.config)))
        }
        router.register(.post, Endpoint.upstreamWeight) { request in try auditingFailures(request, store: daemon.store, action: "upstream weight") { subject in
            let body = try ControlJSON.decode(UpstreamWeightRequest.self, from: request.body, fields: UpstreamWeightRequest.fields)
            (subject.arguments, subject.reason) = ("\(body.address) \(body.weight.map(String.init) ?? "config")", body.reason)
            if let weight = body.weight, !(0...1000).contains(weight) {
                throw ControlFailure(.badRequest, .badRequest, "weight must be 0-1000 (0 = no new requests) or null (the config's), got \(weight)")
            }
            return try change(daemon, request, address: body.address, action: "upstream weight",
                              arguments: subject.arguments, reason: body.reason, weight: .some(body.weight))
        } }
        for (path, admin, verb) in [
            (Endpoint.upstreamDrain, UpstreamState.Admin.draining, "drain"),
            (Endpoint.upstreamEnable, .active, "enable"),
            (Endpoint.upstreamDisable, .disabled, "disable"),
        ] {
            router.register(.post, path) { request in try auditingFailures(request, store: daemon.store, action: "upstream \(verb)") { subject in
                let body = try ControlJSON.decode(UpstreamAdminRequest.self, from: request.body, fields: UpstreamAdminRequest.fields)
                (subject.arguments, subject.reason) = (body.address, body.reason)
                return try change(daemon, request, address: body.address, action: "upstream \(verb)", arguments: body.address,
                                  reason: body.reason, admin: admin)
            } }
        }
    }

    /// Commits the new admin state or weight (with its audit record), then applies it: an
    /// acknowledged change is durable. One change at a time (`Daemon.upstreamChangeLock`), so
    /// what is stored and what is applied stay the same.
    private static func change(
        _ daemon: Daemon, _ request: ControlRequest, address: String, action: String, arguments: String, reason: String?,
        admin newAdmin: UpstreamState.Admin? = nil, weight newWeight: Int?? = nil
    ) throws -> ControlReply {
        let address = HostPort.canonicalAddress(address)  // (as the config's are: `LOCALHOST:80` is `localhost:80`)
        guard UpstreamControl.isConfigured(address, in: daemon.config), let state = daemon.config.upstreams.lookup(address) else {
            throw ControlFailure(.notFound, .notFound, "no reverse_proxy route lists upstream \"\(address)\"" + UpstreamControl.known(daemon.config))
        }
        let (admin, weight) = try daemon.upstreamChangeLock.withLock { _ in
            let admin = newAdmin ?? state.admin
            let weight = newWeight ?? state.weightOverride
            do {
                try daemon.store.putUpstream(
                    StoredUpstream(address: address, admin: admin, weight: weight),
                    audit: record(request, action: action, arguments: arguments, reason: reason))
            } catch {
                throw ControlFailure(.internalServerError, .storeFailure, "could not store the change: \(error)")
            }
            state.set(admin: admin, weight: .some(weight))
            return (admin, weight)
        }
        daemon.http.upstreamsChanged()
        return .json(UpstreamChangeResponse(address: address, admin: admin.rawValue, weight: weight,
                                            inFlight: state.inFlight.load(ordering: .relaxed)))
    }
}

/// Reading and restoring upstream state, shared by the control API and start-up/reload.
enum UpstreamControl {
    static func proxyRoutes(_ config: RuntimeConfig) -> [(label: String, route: ProxyRoute)] {
        var out: [(String, ProxyRoute)] = []
        for (si, server) in config.routing.servers.enumerated() {
            for route in server.routes.ordered.sorted(by: { $0.order < $1.order }) {
                if case .reverseProxy(let p) = route.action { out.append(("servers[\(si)] \(route.reqPath)", p)) }
            }
        }
        return out
    }

    /// The addresses the routes list, for an unknown-address message: upstreams are named as the
    /// config spells them (`localhost:3000` is not `127.0.0.1:3000`).
    static func known(_ config: RuntimeConfig, limit: Int = 10) -> String {
        var seen = Set<String>(), names: [String] = []
        for (_, route) in proxyRoutes(config) {
            for m in route.group.members where seen.insert(m.state.address).inserted { names.append(m.state.address) }
        }
        if names.isEmpty { return " (the config has no reverse_proxy routes)" }
        let shown = names.prefix(limit).joined(separator: ", ")
        return " (upstreams are named as in the config: \(shown)\(names.count > limit ? ", and \(names.count - limit) more" : ""))"
    }

    static func isConfigured(_ address: String, in config: RuntimeConfig) -> Bool {
        proxyRoutes(config).contains { $0.route.group.members.contains { $0.state.address == address } }
    }

    static func list(_ config: RuntimeConfig, now: Double = Date().timeIntervalSince1970) -> [UpstreamInfo] {
        proxyRoutes(config).flatMap { label, route in
            route.group.members.map { m in
                let check = m.state.lastCheck
                return UpstreamInfo(
                    route: label, address: m.state.address, configuredWeight: m.config.weight, effectiveWeight: route.group.effectiveWeight(m, now: now),
                    state: m.state.stateName(now: now, passive: !route.group.single), backup: m.config.backup, inFlight: m.state.inFlight.load(ordering: .relaxed),
                    requests: m.state.requests.load(ordering: .relaxed), failures: m.state.failures.load(ordering: .relaxed),
                    healthTransitions: m.state.healthTransitions, lastCheck: check?.time, lastCheckOK: check?.ok,
                    latencyP50Ms: Double(m.state.latency.quantile(0.5)) / 1000, latencyP99Ms: Double(m.state.latency.quantile(0.99)) / 1000)
            }
        }
    }

    /// Applies the persisted operator state to the config's upstreams (after start and reload).
    static func restore(_ config: RuntimeConfig, from store: StateStore) throws {
        for saved in try store.upstreamStates() {
            // (Saved before addresses were spelled one way, possibly: looked up as they are now.)
            config.upstreams.lookup(HostPort.canonicalAddress(saved.address))?.set(admin: saved.admin, weight: .some(saved.weight))
        }
    }
}
