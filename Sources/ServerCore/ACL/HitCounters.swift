import Synchronization

/// A fixed array of atomic counters (per ACL entry hits): incremented on the hot path without locks.
// The pointer is written only in init/deinit; every access in between is atomic.
public final class HitCounters: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Atomic<Int>>
    public let count: Int

    public init(count: Int, initial: [Int] = []) {
        self.count = count
        storage = .allocate(capacity: max(count, 1))
        for i in 0..<count {
            (storage + i).initialize(to: Atomic(i < initial.count ? initial[i] : 0))
        }
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    @inline(__always)
    public func increment(_ i: Int) {
        guard i >= 0 && i < count else { return }
        storage[i].add(1, ordering: .relaxed)
    }

    /// Zeroes counter `i` (a new entry took its slot).
    public func reset(_ i: Int) {
        guard i >= 0 && i < count else { return }
        storage[i].store(0, ordering: .relaxed)
    }

    /// A copy with room for `count` counters, the existing ones carried over.
    public func resized(to count: Int) -> HitCounters {
        HitCounters(count: count, initial: (0..<min(count, self.count)).map { self[$0] })
    }

    public subscript(_ i: Int) -> Int { i >= 0 && i < count ? storage[i].load(ordering: .relaxed) : 0 }
}
