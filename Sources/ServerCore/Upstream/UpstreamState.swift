import Foundation
import NIOCore
import Synchronization

/// The live state of one upstream address, shared by every route that lists it and kept across
/// reloads: the operator's admin state and weight, health, and counters.
///
/// Writers take the locks; what the balancer reads on every pick (admin state, weight override,
/// health) is mirrored in atomics, so a pick takes no lock here.
public final class UpstreamState: Sendable {
    public enum Admin: String, Sendable, Codable {
        case active, draining, disabled
    }

    public let address: String
    public let host: String
    public let port: Int
    /// The resolved address when `host` is an IP literal (connects skip name resolution).
    let socketAddress: SocketAddress?
    /// Small and unique per registry (0, 1, 2…): the index of this upstream's idle connections
    /// in a worker's pool.
    let poolIndex: Int
    public let inFlight = Atomic<Int>(0)
    public let requests = Atomic<Int>(0)
    public let failures = Atomic<Int>(0)
    /// Time from sending a request to the end of its response.
    public let latency = Histogram()

    struct Control {
        var admin: Admin = .active
        /// The operator's weight (`expctl upstream weight`); nil = the config's.
        var weight: Int?
    }
    struct Health {
        /// Down (passive or active) until this time; 0 = up.
        var downUntil: Double = 0
        /// Active checks: down until `rise` successes.
        var activeDown = false
        var recentFailures: [Double] = []
        var consecutiveOK = 0
        var consecutiveFail = 0
        var lastCheck: Double?
        var lastCheckOK: Bool?
        var transitions = 0
    }
    private let control = Mutex(Control())
    private let health = Mutex(Health())
    /// Mirrors, written under the locks above: admin (0 active, 1 draining, 2 disabled), the
    /// weight override (-1: none), active-check down, and `downUntil`'s bit pattern.
    private let adminCode = Atomic<Int>(0)
    private let weightCode = Atomic<Int>(-1)
    private let activeDownFlag = Atomic<Bool>(false)
    private let downUntilBits = Atomic<UInt64>(0)

    init(host: String, port: Int, address: String, poolIndex: Int = 0) {
        self.host = host
        self.port = port
        self.address = address
        self.poolIndex = poolIndex
        socketAddress = try? SocketAddress(ipAddress: host, port: port)
    }

    public var admin: Admin {
        switch adminCode.load(ordering: .acquiring) {
        case 0: return .active
        case 1: return .draining
        default: return .disabled
        }
    }

    public var weightOverride: Int? {
        let w = weightCode.load(ordering: .acquiring)
        return w < 0 ? nil : w
    }

    public func set(admin: Admin? = nil, weight: Int?? = nil) {
        control.withLock { c in
            if let admin { c.admin = admin }
            if let weight { c.weight = weight }
            adminCode.store(c.admin == .active ? 0 : c.admin == .draining ? 1 : 2, ordering: .releasing)
            weightCode.store(c.weight ?? -1, ordering: .releasing)
        }
    }

    /// Usable for new requests now: active and healthy. (`now` is only read when the upstream
    /// has been marked down.) `passive`: whether passive health's verdict counts.
    public func isAvailable(now: @autoclosure () -> Double, passive: Bool = true) -> Bool {
        adminCode.load(ordering: .acquiring) == 0 && !isDown(now: now(), passive: passive)
    }

    public func isDown(now: @autoclosure () -> Double, passive: Bool = true) -> Bool {
        if activeDownFlag.load(ordering: .acquiring) { return true }
        guard passive else { return false }
        let bits = downUntilBits.load(ordering: .acquiring)
        return bits != 0 && Double(bitPattern: bits) > now()
    }

    /// Copies the health fields the pick reads into their atomics (under the health lock).
    private static func mirror(_ h: Health, into state: UpstreamState) {
        state.activeDownFlag.store(h.activeDown, ordering: .releasing)
        state.downUntilBits.store(h.downUntil == 0 ? 0 : h.downUntil.bitPattern, ordering: .releasing)
    }

    /// Passive health: a failed attempt. `maxFails` failures within `failTimeout` seconds mark the
    /// upstream down for `failTimeout` seconds.
    func recordFailure(now: Double, maxFails: Int, failTimeout: Double) {
        failures.add(1, ordering: .relaxed)
        guard maxFails > 0 else { return }
        health.withLock { h in
            h.recentFailures = h.recentFailures.filter { now - $0 < failTimeout } + [now]
            if h.recentFailures.count >= maxFails && h.downUntil <= now {
                h.downUntil = now + failTimeout
                h.recentFailures.removeAll()
                h.transitions += 1
                Self.mirror(h, into: self)
            }
        }
    }

    /// Active health: one check's result; `fall` failures in a row mark it down, `rise` successes up.
    /// Nothing is recorded unless `current()` holds, asked under the lock that
    /// `clearActiveHealth` takes (a check from before a reload cannot land after its clearing).
    func recordCheck(ok: Bool, now: Double, fall: Int, rise: Int, if current: () -> Bool = { true }) {
        health.withLock { h in
            guard current() else { return }
            h.lastCheck = now
            h.lastCheckOK = ok
            if ok {
                h.consecutiveOK += 1
                h.consecutiveFail = 0
                if h.activeDown && h.consecutiveOK >= rise {
                    h.activeDown = false
                    h.transitions += 1
                }
            } else {
                h.consecutiveFail += 1
                h.consecutiveOK = 0
                if !h.activeDown && h.consecutiveFail >= fall {
                    h.activeDown = true
                    h.transitions += 1
                }
            }
            Self.mirror(h, into: self)
        }
    }

    /// No active check watches this upstream any more (a reload removed its `health_check`):
    /// their verdict goes with them, so it cannot stay down with nothing left to bring it up.
    func clearActiveHealth() {
        health.withLock { h in
            if h.activeDown { h.transitions += 1 }
            h.activeDown = false
            h.consecutiveOK = 0
            h.consecutiveFail = 0
            Self.mirror(h, into: self)
        }
    }

    public var lastCheck: (time: Double, ok: Bool)? {
        health.withLock { h in h.lastCheck.map { ($0, h.lastCheckOK ?? false) } }
    }
    public var healthTransitions: Int { health.withLock { $0.transitions } }

    /// What `expctl upstream list` shows: disabled and draining/drained (admin) win over down (health).
    /// `passive`: whether passive health counts for the route asking (not for a route's only
    /// upstream, which that route goes on using: it is not down there).
    public func stateName(now: Double, passive: Bool = true) -> String {
        switch admin {
        case .disabled: return "disabled"
        case .draining: return inFlight.load(ordering: .relaxed) == 0 ? "drained" : "draining"
        case .active: return isDown(now: now, passive: passive) ? "down" : "active"
        }
    }
}

/// Every upstream address the config names, by address; survives reloads so counters, admin
/// state and health carry over.
public final class UpstreamRegistry: Sendable {
    private let states = Mutex<[String: UpstreamState]>([:])

    public init() {}

    func state(for upstream: XPSConfig.Upstream) -> UpstreamState {
        states.withLock { s in
            if let existing = s[upstream.address] { return existing }
            let new = UpstreamState(host: upstream.host, port: upstream.port, address: upstream.address, poolIndex: s.count)
            s[upstream.address] = new
            return new
        }
    }

    public func lookup(_ address: String) -> UpstreamState? { states.withLock { $0[address] } }
    public var all: [UpstreamState] { states.withLock { Array($0.values) } }
}
