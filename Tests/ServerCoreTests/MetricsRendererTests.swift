import Foundation
import Synchronization
import XCTest

@testable import ServerCore

/// The Prometheus exposition's histograms, as text: what a scraper would read.
final class MetricsRendererTests: XCTestCase {
    struct Series {
        var buckets: [(le: String, count: Int)] = []
        var count = -1
        var sum = -1.0
    }

    /// The one series of `name` in `text`.
    static func series(_ text: String, _ name: String) -> Series {
        var s = Series()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { continue }
            let key = String(parts[0]), value = String(parts[1])
            if key.hasPrefix(name + "_bucket{"), let le = key.split(separator: "\"").dropLast().last {
                s.buckets.append((String(le), Int(value)!))
            } else if key.hasPrefix(name + "_count{") {
                s.count = Int(value)!
            } else if key.hasPrefix(name + "_sum{") {
                s.sum = Double(value)!
            }
        }
        return s
    }

    static func render(_ h: Histogram) -> Series {
        var out = ""
        MetricsRenderer.histogram(&out, "t_seconds", "test", [("route=\"r\"", h)])
        return series(out, "t_seconds")
    }

    /// Prometheus: the bucket `le` counts every observation at or below `le`. Durations are
    /// recorded in whole µs, truncated (a recorded m µs took less than m + 1), so at a bound of
    /// whole µs `le` counts exactly the recorded values below it. Values between 448 and 500 µs
    /// used to be missing from `le="0.0005"` (their bucket ends at 511 µs).
    func testEveryBucketCountsAllObservationsBelowItsBound() {
        let h = Histogram()
        var recorded = [0, 1, 255, 256, 447, 448, 450, 499, 500, 511, 512, 513, 1000, 1023, 1024, 2500, 2559, 2560, 9_999_999, 16_777_215, 16_777_216, 40_000_000]
        var rng = SplitMix64(seed: 12)
        for _ in 0..<20_000 {
            // Log-uniform over 1 µs … 30 s.
            recorded.append(Int(exp(Double(rng.next() % 1_000_000) / 1_000_000 * log(30_000_000.0))))
        }
        for m in recorded { h.record(micros: m) }
        let s = Self.render(h)
        XCTAssertEqual(s.buckets.last?.le, "+Inf")
        XCTAssertEqual(s.buckets.last?.count, recorded.count)
        XCTAssertEqual(s.count, recorded.count)
        XCTAssertEqual(s.sum, Double(recorded.reduce(0, +)) / 1_000_000, accuracy: 1e-6)
        var previous = 0.0
        for (le, count) in s.buckets.dropLast() {
            let seconds = Double(le)!
            XCTAssertGreaterThan(seconds, previous, "le bounds ascend")
            previous = seconds
            let micros = (seconds * 1_000_000).rounded()
            XCTAssertEqual(seconds * 1_000_000, micros, accuracy: 1e-6, "le=\(le) is a whole number of µs")
            XCTAssertEqual(count, recorded.filter { Double($0) < micros }.count, "le=\(le)")
        }
        XCTAssertGreaterThanOrEqual(s.buckets.count, 10)
        XCTAssertTrue(MetricsRenderer.bucketMicros.allSatisfy(Histogram.isBoundary), "le bounds where no bucket straddles them")
        XCTAssertFalse(Histogram.isBoundary(500), "0.0005 s is inside the 448-511 µs bucket")
        XCTAssertEqual(Double(s.buckets.dropLast().last!.le)!, 16.777216, "the top bound covers slow answers")
    }

    /// A scrape while other threads record: every scrape's buckets never decrease, none is
    /// above +Inf, and +Inf equals _count (they used to be read at different moments).
    func testScrapesAreConsistentWhileRecording() {
        let h = Histogram()
        let done = StopFlag()
        let recorders = DispatchGroup()
        for t in 0..<3 {
            DispatchQueue.global().async(group: recorders) {
                var m = t
                while !done.isSet {
                    for _ in 0..<1000 { h.record(micros: 300 + m % 3000); m &+= 7 }
                }
            }
        }
        defer {
            done.set()
            recorders.wait()
        }
        for _ in 0..<300 {
            let s = Self.render(h)
            var previous = 0
            for (le, count) in s.buckets {
                XCTAssertGreaterThanOrEqual(count, previous, "le=\(le) below the bucket before it")
                previous = count
            }
            XCTAssertEqual(s.buckets.last?.count, s.count, "+Inf == _count")
            if s.buckets.last?.count != s.count { return }
        }
    }
}

/// A flag the recording threads poll.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
