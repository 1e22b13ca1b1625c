/// A dictionary bounded to `capacity` keys that, when full, drops the least recently used key to
/// make room: lookup, update, insert and eviction are all O(1) (a hash index into slots kept in
/// a doubly linked list, oldest first). For per-client counters that must stay bounded under a
/// flood of new clients without forgetting the clients that are still active.
struct LRUTable<Key: Hashable, Value> {
    private struct Slot {
        var key: Key
        var value: Value
        var older: Int
        var newer: Int
    }

    let capacity: Int
    private var slots: [Slot] = []
    private var index: [Key: Int] = [:]
    /// The least and the most recently used slots (-1 when empty).
    private var oldest = -1
    private var newest = -1

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { index.count }

    /// Runs `body` on `key`'s value (`make()`'s when the key is new) and marks the key the most
    /// recently used. A new key in a full table takes the least recently used key's place.
    mutating func update<R>(_ key: Key, orInsert make: () -> Value, _ body: (inout Value) -> R) -> R {
        let i: Int
        if let found = index[key] {
            i = found
            unlink(i)
        } else if index.count < capacity {
            i = slots.count
            slots.append(Slot(key: key, value: make(), older: -1, newer: -1))
            index[key] = i
        } else {
            i = oldest
            unlink(i)
            index[slots[i].key] = nil
            slots[i] = Slot(key: key, value: make(), older: -1, newer: -1)
            index[key] = i
        }
        link(i)
        return body(&slots[i].value)
    }

    /// The value for `key`, without marking it used.
    func peek(_ key: Key) -> Value? { index[key].map { slots[$0].value } }

    /// The keys, least recently used first.
    var keysOldestFirst: [Key] {
        var keys: [Key] = []
        var i = oldest
        while i >= 0 {
            keys.append(slots[i].key)
            i = slots[i].newer
        }
        return keys
    }

    private mutating func unlink(_ i: Int) {
        let (older, newer) = (slots[i].older, slots[i].newer)
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
        if newer >= 0 { slots[newer].older = older } else { newest = older }
    }

    /// Appends slot `i` as the most recently used.
    private mutating func link(_ i: Int) {
        slots[i].older = newest
        slots[i].newer = -1
        if newest >= 0 { slots[newest].newer = i } else { oldest = i }
        newest = i
    }
}
