import Foundation

/// `load_balancing` policies.
public enum LoadBalancing: String, Sendable {
    case roundRobin = "round_robin"
    case leastConn = "least_conn"
    case ipHash = "ip_hash"
    case randomTwo = "random_two"
}

/// One choosable upstream as a policy sees it.
public struct Candidate: Sendable, Equatable {
    /// Index in the route's upstream list.
    public var index: Int
    public var weight: Int
    public var inFlight: Int
    /// ip_hash's key for the upstream (`Balancer.upstreamKey`, from its address).
    public var key: UInt64

    public init(index: Int, weight: Int, inFlight: Int, key: UInt64 = 0) {
        self.index = index
        self.weight = weight
        self.inFlight = inFlight
        self.key = key
    }
}

/// The balancing policies as pure functions over the candidates (upstreams that are available
/// now, weight > 0, not yet tried for this request) and a small mutable state.
public struct Balancer: Sendable {
    public let policy: LoadBalancing
    /// Smooth weighted round robin: each upstream's current weight (nginx's algorithm).
    var current: [Int]
    var random: UInt64 = 0x2545_F491_4F6C_DD1D

    public init(policy: LoadBalancing, count: Int) {
        self.policy = policy
        current = Array(repeating: 0, count: count)
    }

    /// Picks one of `candidates` (non-empty); `clientHash` (`clientHash(_:)`) feeds `ip_hash`.
    public mutating func pick<C: RandomAccessCollection<Candidate>>(_ candidates: C, clientHash: UInt64) -> Int
    where C.Index == Int {
        precondition(!candidates.isEmpty)
        switch policy {
        case .roundRobin:
            return smoothWeighted(candidates)
        case .leastConn:
            // Fewest in-flight per unit of weight; ties broken by smooth WRR among the tied.
            // (Two passes rather than a list of the tied: a pick allocates nothing.)
            var best = candidates[candidates.startIndex]
            var tied = 0
            for c in candidates {
                let lhs = c.inFlight * best.weight, rhs = best.inFlight * c.weight
                if lhs < rhs {
                    best = c
                    tied = 1
                } else if lhs == rhs {
                    tied += 1
                }
            }
            if tied == 1 { return best.index }
            return smoothWeighted(candidates.lazy.filter { $0.inFlight * best.weight == best.inFlight * $0.weight })
        case .ipHash:
            return Self.rendezvous(candidates, clientHash: clientHash)
        case .randomTwo:
            if candidates.count == 1 { return candidates[0].index }
            let a = weightedRandom(candidates)
            var b = weightedRandom(candidates)
            if b.index == a.index { b = candidates[(candidates.firstIndex(of: a)! + 1) % candidates.count] }
            return a.inFlight * b.weight <= b.inFlight * a.weight ? a.index : b.index
        }
    }

    /// ip_hash: weighted rendezvous hashing (highest random weight). Each upstream scores the
    /// client by a hash of the pair, scaled by its weight (`-weight / ln u`, `u` uniform in (0, 1)),
    /// and the highest score wins. So a client stays on one upstream as long as the candidates do
    /// not change; upstreams get clients in proportion to their weights; when one is unavailable
    /// (down, draining, disabled, tried already) only its clients move, spread over the others by
    /// weight (each to its own second choice); a changed weight moves clients only to or from
    /// that upstream; and the pairing hangs on the upstream's address, not its place in the list.
    static func rendezvous(_ candidates: some Sequence<Candidate>, clientHash: UInt64) -> Int {
        var best = -1
        var bestScore = -Double.infinity
        for c in candidates {
            // 53 random bits as a double in (0, 1): never 0, never 1, so the log is finite and < 0.
            let u = (Double(mix(clientHash ^ c.key) >> 11) + 0.5) * 0x1p-53
            let score = Double(c.weight) / -log(u)
            if score > bestScore {
                bestScore = score
                best = c.index
            }
        }
        return best
    }

    /// ip_hash's key for an upstream: its `host:port` hashed (FNV-1a, then mixed), the same in
    /// every process and on every route that lists it.
    public static func upstreamKey(_ address: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in address.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return mix(h)
    }

    /// nginx's smooth weighted round robin: add each weight to its current value, pick the
    /// largest, subtract the total from it. 5:1:1 gives a a b a c a a; equal weights cycle.
    mutating func smoothWeighted(_ candidates: some Sequence<Candidate>) -> Int {
        var total = 0
        var best = -1
        for c in candidates {
            current[c.index] += c.weight
            total += c.weight
            if best < 0 || current[c.index] > current[best] { best = c.index }
        }
        current[best] -= total
        return best
    }

    mutating func nextRandom() -> UInt64 {
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return random
    }

    mutating func weightedRandom<C: RandomAccessCollection<Candidate>>(_ candidates: C) -> Candidate where C.Index == Int {
        let total = candidates.reduce(0) { $0 + $1.weight }
        var r = Int(nextRandom() % UInt64(max(total, 1)))
        for c in candidates {
            if r < c.weight { return c }
            r -= c.weight
        }
        return candidates[candidates.count - 1]
    }

    /// The ip_hash key of a client: every bit of the address mixed (splitmix64's finalizer; an
    /// IPv6 address's two halves in turn), so that clients differing in any octet or field spread
    /// over the upstreams, whatever their number. (eXpServer's `ip % N`, the IPv4 bytes read
    /// little-endian, let the first octet alone pick the upstream when N is a power of two: every
    /// client of a /8, 127.x.x.x or 10.x.x.x, on one upstream of 2, 4 or 8. Compat asks only for
    /// stability.)
    public static func clientHash(_ address: IPAddress?) -> UInt64 {
        guard let address else { return 0 }
        if let v4 = address.ipv4Value { return mix(UInt64(v4)) }
        return mix(address.high ^ mix(address.low))
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
