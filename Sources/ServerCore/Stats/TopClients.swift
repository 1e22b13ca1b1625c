import Synchronization

/// The heaviest clients by requests and by 4xx answers: the Space-Saving algorithm with a fixed
/// number of slots (a client not tracked replaces the smallest, inheriting its count as error),
/// so memory is bounded and every client above 1/capacity of the traffic is reported.
public final class TopClients: Sendable {
    public struct Entry: Sendable, Equatable {
        public var address: IPAddress
        public var requests: Int
        public var errors4xx: Int
        /// Upper bound of the over-count inherited from an evicted slot.
        public var overcount: Int
    }

    public let capacity: Int
    /// One table per stripe (`Stripes`: the recording thread's CPU), so workers do not contend
    /// for one lock; `top` adds them up.
    private let shards: [Shard]

    private final class Shard: Sendable {
        let slots: Mutex<ClientSlots>
        /// Keeps the next shard's lock off this one's cache line.
        private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)

        init(capacity: Int) { slots = Mutex(ClientSlots(capacity: capacity)) }
    }

    public init(capacity: Int) {
        self.capacity = capacity
        shards = (0..<Stripes.count).map { _ in Shard(capacity: capacity) }
    }

    func record(_ client: IPAddress, is4xx: Bool, stripe: Int = Stripes.current()) {
        shards[stripe].slots.withLock { $0.record(client, is4xx: is4xx) }
    }

    /// The top `n` by requests (and, separately, by 4xx answers).
    public func top(_ n: Int) -> (byRequests: [Entry], by4xx: [Entry]) {
        var merged: [IPAddress: Entry] = [:]
        for shard in shards {
            for e in shard.slots.withLock({ $0.values }) {
                merged[e.address, default: Entry(address: e.address, requests: 0, errors4xx: 0, overcount: 0)].add(e)
            }
        }
        let all = Array(merged.values)
        return (Array(all.sorted { $0.requests > $1.requests }.prefix(n)),
                Array(all.filter { $0.errors4xx > 0 }.sorted { $0.errors4xx > $1.errors4xx }.prefix(n)))
    }
}

extension TopClients.Entry {
    mutating func add(_ other: Self) {
        requests += other.requests
        errors4xx += other.errors4xx
        overcount += other.overcount
    }
}
