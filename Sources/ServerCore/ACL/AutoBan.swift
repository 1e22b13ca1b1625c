import Synchronization

/// Per-client request and 4xx counts in fixed windows, for `acl.auto_ban`. Bounded: past
/// `maxClients` tracked clients, windows that have ended are dropped (or all, if none has).
final class AutoBan: Sendable {
    struct Window {
        var start: Double
        var requests: Int
        var errors: Int
        var banned: Bool
    }

    let settings: AutoBanSettings
    let maxClients: Int
    private let windows = Mutex<[IPAddress: Window]>([:])

    init(settings: AutoBanSettings, maxClients: Int = 100_000) {
        self.settings = settings
        self.maxClients = maxClients
    }

    /// Counts one answer; returns the ban reason the first time a limit is crossed in a window.
    func record(_ client: IPAddress, is4xx: Bool, now: Double) -> String? {
        let length = Double(settings.windowMs) / 1000
        return windows.withLock { w -> String? in
            var window = w[client] ?? Window(start: now, requests: 0, errors: 0, banned: false)
            if now - window.start >= length { window = Window(start: now, requests: 0, errors: 0, banned: false) }
            window.requests += 1
            if is4xx { window.errors += 1 }
            var reason: String? = nil
            if !window.banned {
                if let max = settings.maxRequests, window.requests > max {
                    reason = "auto: more than \(max) requests in \(settings.windowMs) ms"
                } else if let max = settings.max4xx, window.errors > max {
                    reason = "auto: more than \(max) 4xx answers in \(settings.windowMs) ms"
                }
                if reason != nil { window.banned = true }
            }
            if w.count >= maxClients && w[client] == nil {
                w = w.filter { now - $0.value.start < length }
                if w.count >= maxClients { w.removeAll(keepingCapacity: true) }
            }
            w[client] = window
            return reason
        }
    }
}
