import Foundation

/// A connection's memo of the global access decision for its client, so keep-alive requests do
/// not repeat the lookup. Entries never become active later, they only expire; so a decision
/// stays right until the snapshot changes (any ACL change swaps it) or the deciding entry expires.
struct AccessDecisionCache {
    private var generation: UInt64?
    private var client: IPAddress?
    private var decision: AccessPolicy.Decision = .noMatch
    private var validUntil: Double = 0

    mutating func decision(for client: IPAddress, in snap: AccessControl.Snapshot) -> AccessPolicy.Decision {
        if snap.policy.isEmpty { return .noMatch }
        if snap.generation == generation && client == self.client
            && (validUntil == .infinity || Date().timeIntervalSince1970 < validUntil)
        {
            return decision
        }
        let now = Date().timeIntervalSince1970
        let d = snap.policy.decide(client, now: now)
        switch d {
        case .noMatch: validUntil = .infinity
        case .allow(let i), .deny(let i): validUntil = snap.policy.entries[i].expiresAt ?? .infinity
        }
        generation = snap.generation
        self.client = client
        decision = d
        return d
    }
}
