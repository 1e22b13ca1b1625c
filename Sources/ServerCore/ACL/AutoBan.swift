import Synchronization

/// Per-client request and 4xx counts in fixed windows, for `acl.auto_ban`. Bounded: past
/// `maxClients` tracked clients, the least recently seen one is forgotten to make room (O(1),
/// under the lock every answer takes), so a flood of one-request clients cannot wipe the counts
/// of a client that keeps coming.
final class AutoBan: Sendable {
    struct Window {
        var start: Double
        var requests: Int
        var errors: Int
        var banned: Bool
    }

    let settings: AutoBanSettings
    let maxClients: Int
    private let windows: Mutex<LRUTable<IPAddress, Window>>

    init(settings: AutoBanSettings, maxClients: Int = 100_000) {
        self.settings = settings
        self.maxClients = maxClients
        windows = Mutex(LRUTable(capacity: maxClients))
    }

    /// Clients tracked now.
    var trackedClients: Int { windows.withLock { $0.count } }

    /// Counts one answer; returns the ban reason the first time a limit is crossed in a window.
    func record(_ client: IPAddress, is4xx: Bool, now: Double) -> String? {
        let length = Double(settings.windowMs) / 1000
        return windows.withLock { w -> String? in
            w.update(client, orInsert: { Window(start: now, requests: 0, errors: 0, banned: false) }) { window -> String? in
                if now - window.start >= length { window = Window(start: now, requests: 0, errors: 0, banned: false) }
                window.requests += 1
                if is4xx { window.errors += 1 }
                guard !window.banned else { return nil }
                var reason: String? = nil
                if let max = settings.maxRequests, window.requests > max {
                    reason = "auto: more than \(max) requests in \(settings.windowMs) ms"
                } else if let max = settings.max4xx, window.errors > max {
                    reason = "auto: more than \(max) 4xx answers in \(settings.windowMs) ms"
                }
                if reason != nil { window.banned = true }
                return reason
            }
        }
    }
}
