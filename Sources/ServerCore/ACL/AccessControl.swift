import Dispatch
import Foundation
import Synchronization

/// The live global access list: config entries plus the operator's (and auto-ban's) dynamic
/// entries, persisted in the `StateStore`.
///
/// Reads are lock-free in effect: requests take the current immutable `Snapshot` (one short
/// lock to copy a reference). Every change is committed to the store first (with its audit
/// record), then a new snapshot is built and swapped in, so it applies from the next request on.
/// Entries expire exactly at their TTL: lookups skip expired entries, and a timer rebuilds the
/// snapshot at the next expiry so they also leave the table. Expired entries are kept for
/// `retention` (7 days: `acl list --expired`), then dropped from memory and the store: at start
/// and every hour while running (auto-ban adds one per banned address, so without it they would
/// pile up for as long as the daemon runs).
///
/// Both timers hold this object strongly until `stop()`, which its owner calls at shutdown: not
/// weakly, since a weak reference gives an object a side table, and every retain of it then takes
/// Swift's slow reference-counting path; this one is retained on every request.
// The timers are created with the object and only armed, disarmed and cancelled after (thread-safe
// dispatch calls); everything else is locked or immutable.
public final class AccessControl: @unchecked Sendable {
    static let retention: Double = 7 * 86400
    static let pruneInterval: Double = 3600

    /// What a request is checked against.
    public final class Snapshot: Sendable {
        public let policy: AccessPolicy
        public let hits: HitCounters
        public let settings: ACLSettings
        public let trusted: IPSet<Bool>
        /// Unique per snapshot for the process's life (an object identity can be reused once the
        /// object is freed; this number never is), so memos can tell snapshots apart.
        public let generation: UInt64

        init(policy: AccessPolicy, hits: HitCounters, settings: ACLSettings) {
            self.policy = policy
            self.hits = hits
            self.settings = settings
            trusted = IPSet(settings.trustedProxies.map { ($0, true) })
            generation = Snapshot.counter.add(1, ordering: .relaxed).newValue
        }

        private static let counter = Atomic<UInt64>(0)

        /// `peer` (the TCP peer) is one of `acl.trusted_proxies`: its requests are judged by the
        /// address it forwards, and its connection is never closed for one of its clients.
        @inline(__always)
        public func isTrustedProxy(_ peer: IPAddress) -> Bool { trusted.count > 0 && trusted.longestMatch(peer) != nil }
    }

    struct Mutable {
        var settings: ACLSettings
        var dynamic: [CIDR: ACLEntry]
        /// When the expiry timer fires next (nil: disarmed).
        var nextExpiry: Double?
    }

    public let store: StateStore
    private let current: Mutex<Snapshot>
    private let mutable: Mutex<Mutable>
    /// Serialises writers (store commit + rebuild) so snapshots are built in commit order.
    private let writeLock = Mutex<Void>(())
    let autoBan: Mutex<AutoBan?>
    /// Read on every answered request, so auto-ban costs nothing when it is off.
    private let autoBanOn = Atomic<Bool>(false)
    /// Bans decided but not yet in the table (they are stored, with an fsync, and inserted off
    /// the event loops): each client's until when. Requests look here first, so a client is
    /// refused from the request after the one that crossed the limit, not once the ban is in.
    private let pendingBans = Mutex<[IPAddress: Double]>([:])
    private let pendingBanCount = Atomic<Int>(0)
    private let maintenance = DispatchQueue(label: "expserver.acl")
    private let pruneTimer: DispatchSourceTimer
    /// Rebuilds the snapshot at the next expiry (re-armed by each rebuild and by each insert of an
    /// entry that expires sooner).
    private let expiryTimer: DispatchSourceTimer

    public init(settings: ACLSettings, store: StateStore) throws {
        self.store = store
        try store.pruneACL(expiredBefore: Date().timeIntervalSince1970 - Self.retention)
        var dynamic: [CIDR: ACLEntry] = [:]
        for e in try store.aclEntries() { dynamic[e.cidr] = e }
        mutable = Mutex(Mutable(settings: settings, dynamic: dynamic))
        current = Mutex(Snapshot(policy: AccessPolicy(), hits: HitCounters(count: 0), settings: settings))
        autoBan = Mutex(settings.autoBan.map { AutoBan(settings: $0) })
        autoBanOn.store(settings.autoBan != nil, ordering: .relaxed)
        pruneTimer = DispatchSource.makeTimerSource(queue: maintenance)
        expiryTimer = DispatchSource.makeTimerSource(queue: maintenance)
        pruneTimer.setEventHandler { try? self.pruneExpired() }  // (a store error leaves them for the next pass)
        pruneTimer.schedule(deadline: .now() + Self.pruneInterval, repeating: Self.pruneInterval)
        expiryTimer.setEventHandler { self.writeLock.withLock { _ in self.rebuild() } }
        expiryTimer.schedule(deadline: .distantFuture)
        pruneTimer.activate()
        expiryTimer.activate()
        rebuild()
    }

    /// Stops the timers (and lets this object go): at shutdown.
    public func stop() {
        pruneTimer.cancel()
        expiryTimer.cancel()
    }

    /// Drops the entries that expired more than `retention` before `now`, from memory and the
    /// store. (They no longer match anything, so the snapshot stays as it is.)
    func pruneExpired(now: Double = Date().timeIntervalSince1970) throws {
        let before = now - Self.retention
        try writeLock.withLock { _ in
            try store.pruneACL(expiredBefore: before)
            mutable.withLock { m in m.dynamic = m.dynamic.filter { ($0.value.expiresAt ?? .infinity) >= before } }
        }
    }

    public var snapshot: Snapshot { current.withLock { $0 } }
    /// Bumped after every new snapshot (see `ServerState.generation`).
    public let version = Atomic<UInt64>(0)

    private func install(_ snapshot: Snapshot) {
        current.withLock { $0 = snapshot }
        version.add(1, ordering: .releasing)
    }

    /// Installs a reloaded config's `acl` block; dynamic entries are kept.
    public func apply(_ settings: ACLSettings) {
        writeLock.withLock { _ in
            mutable.withLock { $0.settings = settings }
            autoBan.withLock { ban in
                if ban?.settings != settings.autoBan { ban = settings.autoBan.map { AutoBan(settings: $0) } }
            }
            autoBanOn.store(settings.autoBan != nil, ordering: .relaxed)
            rebuild()
        }
    }

    /// Adds or replaces the dynamic entry for `entry.cidr`. Committed before it returns; applied
    /// incrementally (one insert into a copy of the table), so it is fast with large lists.
    public func put(_ entry: ACLEntry, audit: AuditRecord) throws {
        try writeLock.withLock { _ in try insert(entry, audit: audit) }
    }

    /// Auto-ban's `put`: only while no entry decides for `client`, checked again under the write
    /// lock, so an entry an operator added since the answer is never replaced.
    func ban(_ entry: ACLEntry, client: IPAddress, audit: AuditRecord) throws {
        try writeLock.withLock { _ in
            guard case .noMatch = snapshot.policy.decide(client, now: Date().timeIntervalSince1970) else { return }
            try insert(entry, audit: audit)
        }
    }

    /// `put` with the write lock held.
    private func insert(_ entry: ACLEntry, audit: AuditRecord) throws {
        try store.putACL(entry, audit: audit)
        let settings = mutable.withLock { m -> ACLSettings in
            m.dynamic[entry.cidr] = entry
            return m.settings
        }
        let old = snapshot
        let (policy, index) = old.policy.inserting(entry, behind: Self.configEntries(settings).last { $0.cidr == entry.cidr })
        let hits = policy.entries.count <= old.hits.count ? old.hits : old.hits.resized(to: policy.entries.count)
        hits.reset(index)  // a new or replacing entry starts at 0, not with the replaced one's hits
        install(Snapshot(policy: policy, hits: hits, settings: old.settings))
        if let expiry = entry.expiresAt { armExpiry(at: expiry, onlyIfSooner: true) }
    }

    /// Removes the dynamic entry for `cidr`; false when there is none. A config entry for the
    /// same prefix, if any, applies again.
    public func remove(_ cidr: CIDR, audit: AuditRecord) throws -> Bool {
        try writeLock.withLock { _ in
            guard hasDynamicEntry(cidr) else { return false }
            guard try store.removeACL(cidr, audit: audit) else { return false }
            let settings = mutable.withLock { m -> ACLSettings in
                m.dynamic[cidr] = nil
                return m.settings
            }
            let old = snapshot
            let fallback = Self.configEntries(settings).last { $0.cidr == cidr }
            // (The config entry that takes the slot back starts at 0 too.)
            if let i = old.policy.table.exactIndex(cidr) { old.hits.reset(i) }
            install(Snapshot(policy: old.policy.removing(cidr, fallback: fallback), hits: old.hits, settings: old.settings))
            return true
        }
    }

    public func hasDynamicEntry(_ cidr: CIDR) -> Bool { mutable.withLock { $0.dynamic[cidr] != nil } }

    /// Every entry with its hit count: config entries, then dynamic ones; expired ones on request.
    public func list(includeExpired: Bool, now: Double = Date().timeIntervalSince1970) -> [(entry: ACLEntry, hits: Int)] {
        let snap = snapshot
        let m = mutable.withLock { $0 }
        // A config entry is hidden only while an active dynamic entry replaces it: once that one
        // expires (it is kept for `--expired`), the config entry decides again, as `rebuild` has it.
        let config = Self.configEntries(m.settings).filter { !(m.dynamic[$0.cidr]?.isActive(at: now) ?? false) }
        let dynamic = m.dynamic.values.sorted { $0.createdAt < $1.createdAt }
        return (config + dynamic)
            .filter { includeExpired || $0.isActive(at: now) }
            .map { ($0, Self.hits(of: $0, in: snap)) }
    }

    /// `entry`'s hit count in `snap`: that of its prefix's slot while the slot holds this very
    /// entry (not a replaced or replacing one, nor the config entry behind an expired one).
    static func hits(of entry: ACLEntry, in snap: Snapshot) -> Int {
        guard let i = snap.policy.table.exactIndex(entry.cidr), snap.policy.entries[i] == entry else { return 0 }
        return snap.hits[i]
    }

    /// Builds and swaps a new snapshot from the current entries, carrying hit counts over (an
    /// entry's own: a different entry for the same prefix starts at 0).
    private func rebuild(now: Double = Date().timeIntervalSince1970) {
        let m = mutable.withLock { $0 }
        let active = m.dynamic.values.filter { $0.isActive(at: now) }.sorted { $0.createdAt < $1.createdAt }
        let policy = AccessPolicy(config: Self.configEntries(m.settings), dynamic: active)
        let old = snapshot
        let hits = HitCounters(count: policy.entries.count, initial: policy.entries.map { Self.hits(of: $0, in: old) })
        install(Snapshot(policy: policy, hits: hits, settings: m.settings))
        armExpiry(at: active.compactMap(\.expiresAt).filter { $0 > now }.min(), onlyIfSooner: false)
    }

    /// When the expiry timer fires next (nil: disarmed).
    var nextExpiry: Double? { mutable.withLock { $0.nextExpiry } }

    /// Arms the expiry timer for `time` (nil: disarms it); `onlyIfSooner`: only if it would fire
    /// sooner than it is armed for now (an inserted entry's expiry). Under the write lock.
    private func armExpiry(at time: Double?, onlyIfSooner: Bool) {
        let armed = mutable.withLock { m -> Bool in
            if onlyIfSooner, let next = m.nextExpiry, let time, next <= time { return false }
            m.nextExpiry = time
            return true
        }
        guard armed else { return }
        guard let time else { return expiryTimer.schedule(deadline: .distantFuture) }
        expiryTimer.schedule(deadline: .now() + max(0, time - Date().timeIntervalSince1970) + 0.001)
    }

    static func configEntries(_ settings: ACLSettings) -> [ACLEntry] {
        settings.allow.map { ACLEntry(cidr: $0, action: .allow, source: .config, createdAt: 0) }
            + settings.deny.map { ACLEntry(cidr: $0, action: .deny, source: .config, createdAt: 0) }
    }

    /// Auto-ban bookkeeping for one answered request; may add a deny entry (off the caller's thread).
    public func record(client: IPAddress, status: UInt) {
        guard autoBanOn.load(ordering: .relaxed) else { return }
        let now = Date().timeIntervalSince1970
        guard let ban = autoBan.withLock({ $0 }) else { return }
        guard let reason = ban.record(client, is4xx: status >= 400 && status < 500, now: now) else { return }
        // Only a client no entry decides for is banned: an allow entry lets it in on purpose, and
        // a deny (its own or a wider prefix's) already keeps it out; a temporary ban over a
        // permanent deny would let the client back in when it ran out.
        let snap = snapshot
        guard case .noMatch = snap.policy.decide(client, now: now) else { return }
        // A trusted proxy answers for many clients (and the balancer's health checks): banning it
        // would refuse them all.
        if snap.isTrustedProxy(client) { return }
        let entry = ACLEntry(
            cidr: CIDR(address: client, bits: 128), action: .deny, source: .auto, createdAt: now,
            expiresAt: now + Double(ban.settings.banMs) / 1000, reason: reason)
        let audit = AuditRecord(time: now, uid: nil, pid: nil, action: "acl deny", arguments: entry.cidr.description, result: "ok", reason: reason)
        pendingBans.withLock { $0[client] = entry.expiresAt }
        pendingBanCount.add(1, ordering: .releasing)
        DispatchQueue.global().async {
            try? self.ban(entry, client: client, audit: audit)
            self.pendingBans.withLock { $0[client] = nil }
            self.pendingBanCount.subtract(1, ordering: .releasing)
        }
    }

    /// `client` was just banned and its ban is not in the table yet (one atomic load when no
    /// ban is pending).
    public func banPending(_ client: IPAddress, now: Double = Date().timeIntervalSince1970) -> Bool {
        guard pendingBanCount.load(ordering: .acquiring) > 0 else { return false }
        return pendingBans.withLock { ($0[client] ?? 0) > now }
    }
}
