/// The slots of one `TopClients` table: at most `capacity` clients in an open-addressing table
/// (linear probing, twice as many buckets as slots, removal by backward shift), hashed by
/// multiplying the address's bits. Recording a known client is a probe or two: no SipHash (the
/// `Dictionary` this replaces hashed every address with it), no allocation. The buckets are
/// allocated at the first record (a table per CPU stripe: most stay empty on a many-core
/// machine). Pure value type; the caller holds the lock.
struct ClientSlots {
    private var entries: [TopClients.Entry] = []
    private var used: [Bool] = []
    private let mask: Int
    private let shift: UInt64
    let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        var buckets = 2
        while buckets < 2 * self.capacity { buckets *= 2 }
        mask = buckets - 1
        shift = UInt64(64 - buckets.trailingZeroBitCount)
    }

    /// Fibonacci hashing: the top bits of the address's bits times 2^64/φ.
    private func home(_ a: IPAddress) -> Int {
        let mixed = ((a.high &* 0x9E37_79B9_7F4A_7C15) ^ a.low) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: mixed >> shift)
    }

    /// The bucket holding `a`, else the empty bucket where it would go.
    private func find(_ a: IPAddress) -> (index: Int, found: Bool) {
        var i = home(a)
        while used[i] {
            if entries[i].address == a { return (i, true) }
            i = (i + 1) & mask
        }
        return (i, false)
    }

    /// Space-Saving: a tracked client counts one more; a new one takes a free slot, or replaces
    /// the smallest, inheriting its count as over-count.
    mutating func record(_ client: IPAddress, is4xx: Bool) {
        if used.isEmpty {
            let empty = TopClients.Entry(address: IPAddress(high: 0, low: 0), requests: 0, errors4xx: 0, overcount: 0)
            entries = Array(repeating: empty, count: mask + 1)
            used = Array(repeating: false, count: mask + 1)
        }
        var (i, found) = find(client)
        if found {
            entries[i].requests += 1
            if is4xx { entries[i].errors4xx += 1 }
            return
        }
        var inherited = 0
        if count == capacity {
            var smallest = -1
            for k in 0...mask where used[k] && (smallest < 0 || entries[k].requests < entries[smallest].requests) {
                smallest = k
            }
            inherited = entries[smallest].requests
            remove(at: smallest)
            i = find(client).index
        }
        entries[i] = TopClients.Entry(
            address: client, requests: inherited + 1, errors4xx: is4xx ? 1 : 0, overcount: inherited)
        used[i] = true
        count += 1
    }

    /// Empties bucket `i`, moving later entries of its probe run back so every entry stays
    /// reachable from its home bucket.
    private mutating func remove(at i: Int) {
        var hole = i
        var j = (i + 1) & mask
        while used[j] {
            // The entry at j may fill the hole if the hole is not before its home on the way to j.
            if (j - home(entries[j].address)) & mask >= (j - hole) & mask {
                entries[hole] = entries[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        used[hole] = false
        count -= 1
    }

    var values: [TopClients.Entry] {
        used.indices.compactMap { used[$0] ? entries[$0] : nil }
    }
}
