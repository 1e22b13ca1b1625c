import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which stripe of a striped counter the calling thread adds to: its CPU's (`sched_getcpu`), so
/// the workers, each on its own core, count on cache lines of their own instead of passing one
/// line back and forth on every request (the request path's counters cost about a microsecond
/// per request when shared). A read sums the stripes. Where `sched_getcpu` is missing, one stripe.
enum Stripes {
    /// A power of two, at least the number of CPUs (at most 64).
    static let count: Int = {
        var n = 1
        while n < min(ProcessInfo.processInfo.activeProcessorCount, 64) { n <<= 1 }
        return getcpu == nil ? 1 : n
    }()

    private static let getcpu: (@convention(c) () -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getcpu") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) () -> Int32).self)
    }()

    @inline(__always)
    static func current() -> Int {
        guard let getcpu else { return 0 }
        return Int(max(getcpu(), 0)) & (count - 1)
    }
}

/// A fixed array of counters, striped by CPU (`Stripes`): adding never takes a lock and never
/// contends with another core; reading sums the stripes. Each stripe starts on its own cache line.
// The pointer is written only in init/deinit; every access in between is atomic.
public final class StripedCounters: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Atomic<Int>>
    public let count: Int
    /// Counters per stripe, rounded up to whole cache lines.
    private let stride: Int
    private let stripes = Stripes.count

    public init(count: Int) {
        self.count = count
        stride = (max(count, 1) + 7) & ~7
        let raw = UnsafeMutableRawPointer.allocate(byteCount: stride * stripes * MemoryLayout<Atomic<Int>>.stride, alignment: 64)
        storage = raw.bindMemory(to: Atomic<Int>.self, capacity: stride * stripes)
        for i in 0..<(stride * stripes) { (storage + i).initialize(to: Atomic(0)) }
    }

    deinit {
        storage.deinitialize(count: stride * stripes)
        UnsafeMutableRawPointer(storage).deallocate()
    }

    @inline(__always)
    func add(_ i: Int, _ n: Int = 1, stripe: Int = Stripes.current()) {
        guard i >= 0 && i < count else { return }
        storage[stripe * stride + i].add(n, ordering: .relaxed)
    }

    /// The sum over the stripes.
    public subscript(_ i: Int) -> Int {
        guard i >= 0 && i < count else { return 0 }
        var total = 0
        for s in 0..<stripes { total &+= storage[s * stride + i].load(ordering: .relaxed) }
        return total
    }
}

/// One striped counter, with `Atomic<Int>`'s `add` and `load` (orderings are relaxed: these are
/// statistics).
public final class StripedCounter: Sendable {
    private let counters = StripedCounters(count: 1)

    public init() {}

    @inline(__always)
    public func add(_ n: Int, ordering: AtomicUpdateOrdering = .relaxed) { counters.add(0, n) }

    public func load(ordering: AtomicLoadOrdering = .relaxed) -> Int { counters[0] }
}
