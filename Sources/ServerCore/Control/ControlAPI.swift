import ControlProtocol
import Foundation

/// The control endpoints and what they do. Each is a small function from a `ControlRequest` to
/// a reply; mutations are audited (by the domain call) and committed before they are answered.
enum ControlAPI {
    static func register(on router: inout ControlRouter, daemon: Daemon) {
        registerACL(on: &router, access: daemon.access)
        registerUpstreams(on: &router, daemon: daemon)
        registerStats(on: &router, daemon: daemon)
        router.register(.get, Endpoint.status) { _ in
            .json(daemon.status())
        }
        router.register(.post, Endpoint.reload) { request in
            let body = try ControlJSON.decode(ReloadRequest.self, from: request.body, fields: ["reason"])
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
