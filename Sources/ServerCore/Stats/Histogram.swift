import Synchronization

/// A latency histogram with fixed log-spaced buckets (4 per doubling, 1 µs to ~9 h), counted
/// with striped atomics (`StripedCounters`) so recording never takes a lock or contends.
/// Quantiles are read off the buckets (the upper bound of the bucket holding the rank), so
/// p50/p90/p99 are within ~19% of the true value.
public final class Histogram: Sendable {
    static let bucketCount = 130
    /// The buckets, then the count and the sum.
    private let buckets = StripedCounters(count: bucketCount + 2)
    private static let totalIndex = bucketCount
    private static let sumIndex = bucketCount + 1
    private let maxMicros = Atomic<Int>(0)

    public init() {}

    @inline(__always)
    static func index(_ micros: Int) -> Int {
        guard micros > 1 else { return 0 }
        let log2 = Int.bitWidth - 1 - micros.leadingZeroBitCount
        let base = 1 << log2
        let quarter = ((micros - base) * 4) / base
        return min(log2 * 4 + quarter, bucketCount - 1)
    }

    func record(micros: Int, stripe: Int = Stripes.current()) {
        buckets.add(Self.index(micros), stripe: stripe)
        buckets.add(Self.totalIndex, stripe: stripe)
        buckets.add(Self.sumIndex, micros, stripe: stripe)
        var current = maxMicros.load(ordering: .relaxed)
        while micros > current {
            let (exchanged, original) = maxMicros.compareExchange(expected: current, desired: micros, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    public var count: Int { buckets[Self.totalIndex] }
    public var max: Int { maxMicros.load(ordering: .relaxed) }
    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }

    /// The `q` quantile (0...1) in microseconds; 0 when empty.
    public func quantile(_ q: Double) -> Int {
        let n = count
        guard n > 0 else { return 0 }
        let rank = Int((Double(n) * q).rounded(.up))
        var seen = 0
        for i in 0..<Self.bucketCount {
            seen += buckets[i]
            if seen >= rank { return Swift.min(Self.upperBound(i), max) }
        }
        return max
    }

    /// The largest value that lands in bucket `i`.
    static func upperBound(_ i: Int) -> Int {
        let log2 = i / 4, quarter = i % 4
        let base = 1 << log2
        return base + (base * (quarter + 1)) / 4 - 1
    }

    /// One reading of the buckets, for Prometheus: its cumulative counts, total and sum are all
    /// derived from the same bucket values, so they agree with each other however fast other
    /// threads record meanwhile (reading the total separately could show a bucket above +Inf).
    public func snapshot() -> Snapshot {
        Snapshot(buckets: (0..<Self.bucketCount).map { buckets[$0] }, sum: buckets[Self.sumIndex])
    }

    public struct Snapshot: Sendable {
        let buckets: [Int]
        /// The sum of the observations in µs (read right after the buckets).
        public let sum: Int
        public var count: Int { buckets.reduce(0, +) }

        /// For each limit (µs, ascending), how many observations were below it: exact only at a
        /// bucket boundary (`Histogram.isBoundary`), where no bucket straddles the limit.
        public func cumulative(below limits: [Int]) -> [Int] {
            var out: [Int] = []
            var seen = 0
            var i = 0
            for limit in limits {
                while i < buckets.count && Histogram.upperBound(i) < limit {
                    seen += buckets[i]
                    i += 1
                }
                out.append(seen)
            }
            return out
        }
    }

    /// True when `micros` starts a bucket: the buckets below it hold exactly the values below it.
    static func isBoundary(_ micros: Int) -> Bool {
        micros > 4 && micros <= upperBound(bucketCount - 2) + 1 && index(micros - 1) != index(micros)
    }

    public var sum: Int { buckets[Self.sumIndex] }
}
