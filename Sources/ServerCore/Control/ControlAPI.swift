import ControlProtocol
import Foundation

/// The control endpoints and what they do. Each is a small function from a `ControlRequest` to
/// a reply; mutations are audited (by the domain call) and committed before they are answered,
/// and a mutation that fails is audited too (`auditingFailures`).
enum ControlAPI {
    /// What a mutation is about, filled in as its request is understood, so that a failure is
    /// audited with as much of it as was known.
    struct AuditSubject {
        var action: String
        var arguments = ""
        var reason: String?
    }

    /// Runs a mutation; when it fails, records `error: <code>` in the audit log before the error
    /// is answered (a success is audited by the domain call, in the same commit as the change).
    /// A store failure is not recorded: the record would go to the store that just failed (the
    /// caller gets `store_failure`). An audit write that fails here does not change the answer.
    static func auditingFailures<T>(
        _ request: ControlRequest, store: StateStore, action: String, _ body: (inout AuditSubject) throws -> T
    ) throws -> T {
        var subject = AuditSubject(action: action)
        do {
            return try body(&subject)
        } catch {
            let code = (error as? ControlFailure)?.code ?? .internal
            if code != .storeFailure {
                _ = try? store.appendAudit(record(request, action: subject.action, arguments: subject.arguments,
                                                  reason: subject.reason, result: "error: \(code.rawValue)"))
            }
            throw error
        }
    }

    static func register(on router: inout ControlRouter, daemon: Daemon) {
        registerACL(on: &router, access: daemon.access)
        registerUpstreams(on: &router, daemon: daemon)
        registerStats(on: &router, daemon: daemon)
        router.register(.get, Endpoint.status) { _ in
            .json(daemon.status())
        }
        router.register(.post, Endpoint.reload) { request in
            // Only a bad body is audited here: `Daemon.reload` audits the reload's own outcome.
            let body = try auditingFailures(request, store: daemon.store, action: "reload") { _ in
                try ControlJSON.decode(ReloadRequest.self, from: request.body, fields: ["reason"])
            }
            return .json(try daemon.reload(caller: request.caller, reason: body.reason))
        }
        router.register(.get, Endpoint.audit) { request in
            var since: Double? = nil
            if let s = request.query["since"] {
                guard let v = Double(s), v >= 0 else {
                    throw ControlFailure(.badRequest, .badRequest, "since must be epoch seconds, got \"\(s)\"")
                }
                since = v
            }
            var limit = 1000
            if let l = request.query["limit"] {
                guard let v = Int(l), v > 0, v <= 100_000 else {
                    throw ControlFailure(.badRequest, .badRequest, "limit must be 1-100000, got \"\(l)\"")
                }
                limit = v
            }
            do {
                return .json(AuditResponse(entries: try daemon.store.audit(since: since, limit: limit)))
            } catch {
                throw ControlFailure(.internalServerError, .storeFailure, "cannot read the audit log: \(error)")
            }
        }
    }
}
