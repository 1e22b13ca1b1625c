import ControlProtocol
import Foundation

/// `/v1/acl…`: list, put (allow/deny), remove, check. Bad input is refused with a message and
/// nothing stored; every change is committed with its audit record before it is acknowledged.
extension ControlAPI {
    static func registerACL(on router: inout ControlRouter, access: AccessControl) {
        router.register(.get, Endpoint.acl) { request in
            let expired = ["1", "true", "yes"].contains(request.query["expired"] ?? "")
            let now = Date().timeIntervalSince1970
            return .json(ACLListResponse(entries: access.list(includeExpired: expired, now: now).map { info($0.entry, hits: $0.hits, now: now) }))
        }
        router.register(.post, Endpoint.acl) { request in try auditingFailures(request, store: access.store, action: "POST \(Endpoint.acl)") { subject in
            let body = try ControlJSON.decode(ACLPutRequest.self, from: request.body, fields: ACLPutRequest.fields)
            let action = ACLEntry.Action(rawValue: body.action)
            if let action { subject.action = "acl \(action.rawValue)" }
            subject.arguments = body.cidr + (body.ttlSeconds.map { " ttl_seconds=\($0)" } ?? "")
            subject.reason = body.reason
            let cidr = try parseCIDR(body.cidr)
            guard let action else {
                throw ControlFailure(.badRequest, .badRequest, "action must be \"allow\" or \"deny\", got \"\(body.action)\"")
            }
            if let ttl = body.ttlSeconds, !(ttl > 0 && ttl.isFinite) {
                throw ControlFailure(.badRequest, .badRequest, "ttl must be a positive duration")
            }
            if let ttl = body.ttlSeconds, ttl > ACLPutRequest.maxTTLSeconds {
                throw ControlFailure(.badRequest, .badRequest,
                    "ttl_seconds must be at most \(Int(ACLPutRequest.maxTTLSeconds)) (100 years), got \(ttl); leave it out for no expiry")
            }
            if let why = cidr.forceReason, body.force != true {
                throw ControlFailure(.badRequest, .badRequest, "\(why); repeat with --force if you mean it")
            }
            let now = Date().timeIntervalSince1970
            let entry = ACLEntry(
                cidr: cidr, action: action, source: .manual, createdAt: now, expiresAt: body.ttlSeconds.map { now + $0 },
                reason: body.reason, createdBy: request.caller.map { Int64($0.uid) })
            let replaced = access.hasDynamicEntry(cidr)
            // The TTL is 0 < ttl <= 100 years here, so its Int cannot trap.
            let audit = record(request, action: "acl \(action.rawValue)", arguments: cidr.description + (body.ttlSeconds.map { " ttl=\(Int($0))s" } ?? ""), reason: body.reason)
            do {
                try access.put(entry, audit: audit)
            } catch {
                throw ControlFailure(.internalServerError, .storeFailure, "could not store the entry: \(error)")
            }
            return .json(ACLPutResponse(entry: info(entry, hits: 0, now: now), replaced: replaced))
        } }
        router.register(.post, Endpoint.aclRemove) { request in try auditingFailures(request, store: access.store, action: "acl remove") { subject in
            let body = try ControlJSON.decode(ACLRemoveRequest.self, from: request.body, fields: ACLRemoveRequest.fields)
            (subject.arguments, subject.reason) = (body.cidr, body.reason)
            let cidr = try parseCIDR(body.cidr)
            let removed: Bool
            do {
                removed = try access.remove(cidr, audit: record(request, action: "acl remove", arguments: cidr.description, reason: body.reason))
            } catch {
                throw ControlFailure(.internalServerError, .storeFailure, "could not remove the entry: \(error)")
            }
            guard removed else {
                throw ControlFailure(.notFound, .notFound, "no dynamic entry for \(cidr) (entries from the config file change with the config)")
            }
            return .json(ACLRemoveResponse(removed: cidr.description))
        } }
        router.register(.get, Endpoint.aclCheck) { request in
            guard let text = request.query["ip"], let ip = IPAddress(text) else {
                throw ControlFailure(.badRequest, .badRequest, "ip must be an IPv4 or IPv6 address, got \"\(request.query["ip"] ?? "")\"")
            }
            let now = Date().timeIntervalSince1970
            let snap = access.snapshot
            switch snap.policy.decide(ip, now: now) {
            case .noMatch:
                return .json(ACLCheckResponse(ip: ip.description, decision: "allow", entry: nil,
                                              explanation: "no entry matches \(ip): allowed (the default)"))
            case .allow(let i), .deny(let i):
                let e = snap.policy.entries[i]
                let how = e.cidr.bits == 128 ? "exactly" : "most specifically"
                return .json(ACLCheckResponse(
                    ip: ip.description, decision: e.action.rawValue, entry: info(e, hits: snap.hits[i], now: now),
                    explanation: "\(e.action == .allow ? "allowed" : "denied"): \(ip) matches \(e.cidr) \(how) (\(e.source.rawValue) entry\(e.reason.map { ", reason: \($0)" } ?? ""))"))
            }
        }
    }

    /// A prefix as operators write it; one with host bits set (`127.0.0.5/8`) is refused rather
    /// than read as its network (a typo for /28 would deny a whole /8; nginx warns of these).
    static func parseCIDR(_ text: String) throws -> CIDR {
        guard let cidr = CIDR(text), let (high, low, _) = AddressText.prefix(Substring(text)) else {
            throw ControlFailure(.badRequest, .badRequest, "\"\(text)\" is not a valid IP address or CIDR")
        }
        guard cidr.network == IPAddress(high: high, low: low) else {
            throw ControlFailure(.badRequest, .badRequest, "\"\(text)\" has bits set past its prefix length: the prefix is \(cidr) (write that, or the length you meant)")
        }
        return cidr
    }

    static func record(_ request: ControlRequest, action: String, arguments: String, reason: String?, result: String = "ok") -> AuditRecord {
        AuditRecord(
            time: Date().timeIntervalSince1970, uid: request.caller.map { Int64($0.uid) },
            pid: request.caller.map { Int64($0.pid) }, action: action, arguments: arguments, result: result, reason: reason)
    }

    static func info(_ e: ACLEntry, hits: Int, now: Double) -> ACLEntryInfo {
        ACLEntryInfo(
            cidr: e.cidr.description, action: e.action.rawValue, source: e.source.rawValue,
            createdAt: e.source == .config ? nil : e.createdAt, expiresAt: e.expiresAt, expired: !e.isActive(at: now),
            reason: e.reason, createdBy: e.createdBy, hits: hits)
    }
}
