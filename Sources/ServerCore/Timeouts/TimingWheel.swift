/// A hashed timing wheel (Varghese & Lauck): deadlines in `slotCount` buckets of `resolution`
/// nanoseconds each. Insertion is O(1); expiry visits the buckets whose time has come, and an
/// entry due beyond one revolution waits in its bucket until that revolution. There is no
/// removal: callers cancel by ignoring stale entries when they expire (see `LoopTimers`), which
/// keeps cancelling O(1) where a heap's removal is a linear search.
///
/// Pure value type; times are nanoseconds from any fixed origin.
struct TimingWheel<Item> {
    let resolution: Int64
    private var slots: [[(at: Int64, item: Item)]]
    /// The tick (time / resolution) that the next `expire` starts from.
    private var cursor: Int64
    private(set) var count = 0

    init(resolution: Int64, slotCount: Int, now: Int64) {
        precondition(resolution > 0 && slotCount > 0)
        self.resolution = resolution
        slots = Array(repeating: [], count: slotCount)
        cursor = now / resolution
    }

    mutating func insert(_ item: Item, at: Int64) {
        let tick = max(at / resolution, cursor)
        slots[Int(tick % Int64(slots.count))].append((at, item))
        count += 1
    }

    /// Removes the entries due at `now` (deadline <= now) and passes them to `body`, earliest
    /// bucket first.
    mutating func expire(now: Int64, _ body: (Item) -> Void) {
        let target = now / resolution
        guard count > 0 else {
            cursor = max(cursor, target)
            return
        }
        // Past a whole revolution every bucket is visited once.
        let first = max(cursor, target - Int64(slots.count) + 1)
        var tick = first
        while tick <= target {
            let i = Int(tick % Int64(slots.count))
            if !slots[i].isEmpty {
                var due: [Item] = []
                slots[i].removeAll { entry in
                    guard entry.at <= now else { return false }
                    due.append(entry.item)
                    return true
                }
                count -= due.count
                for item in due { body(item) }
            }
            tick += 1
        }
        // The current tick may still hold entries due later within it: it is visited again.
        cursor = target
    }
}
