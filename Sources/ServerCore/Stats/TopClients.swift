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
    private let slots = Mutex<[IPAddress: Entry]>([:])

    public init(capacity: Int) {
        self.capacity = capacity
    }

    func record(_ client: IPAddress, is4xx: Bool) {
        slots.withLock { s in
            if var e = s[client] {
                e.requests += 1
                if is4xx { e.errors4xx += 1 }
                s[client] = e
                return
            }
            if s.count < capacity {
                s[client] = Entry(address: client, requests: 1, errors4xx: is4xx ? 1 : 0, overcount: 0)
                return
            }
            let smallest = s.values.min { $0.requests < $1.requests }!
            s[smallest.address] = nil
            s[client] = Entry(address: client, requests: smallest.requests + 1, errors4xx: is4xx ? 1 : 0, overcount: smallest.requests)
        }
    }

    /// The top `n` by requests (and, separately, by 4xx answers).
    public func top(_ n: Int) -> (byRequests: [Entry], by4xx: [Entry]) {
        let all = slots.withLock { Array($0.values) }
        return (Array(all.sorted { $0.requests > $1.requests }.prefix(n)),
                Array(all.filter { $0.errors4xx > 0 }.sorted { $0.errors4xx > $1.errors4xx }.prefix(n)))
    }
}
