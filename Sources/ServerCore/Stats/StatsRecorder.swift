import Dispatch
import Foundation
import Logging
import Synchronization

/// Persists the statistics: loads the previous run's totals at start (so counts continue across
/// restarts), then every `flushInterval` (and at shutdown) saves the cumulative totals and a
/// history sample, pruning samples older than the retention. Runs on a dispatch queue, never
/// on an event loop. A `kill -9` loses at most one interval.
// `timer` is created in init and only resumed/cancelled after; everything else is locked or immutable.
public final class StatsRecorder: @unchecked Sendable {
    let stats: ServerStats
    let store: StateStore
    let flushInterval: Double
    let retention: Double
    let logger: Logger
    private let timer: DispatchSourceTimer
    /// A dispatch source must be resumed before it may be released; `stop` does it if `start` did not.
    private let started = Atomic<Bool>(false)
    private let lastFlush = Mutex<(time: Double, requests: Int)?>(nil)
    private let queue = DispatchQueue(label: "expserver.stats")

    public init(stats: ServerStats, store: StateStore, flushInterval: Double, retention: Double, logger: Logger) throws {
        self.stats = stats
        self.store = store
        self.flushInterval = flushInterval
        self.retention = retention
        self.logger = logger
        stats.setBaseline(try store.statsTotals())
        timer = DispatchSource.makeTimerSource(queue: queue)
    }

    deinit {
        // Releasing a never-resumed dispatch source crashes; a recorder dropped after a failed start must not.
        if !started.exchange(true, ordering: .relaxed) { timer.resume() }
        timer.cancel()
    }

    public func start() {
        timer.schedule(deadline: .now() + flushInterval, repeating: flushInterval)
        timer.setEventHandler { [weak self] in self?.flush() }
        if !started.exchange(true, ordering: .relaxed) { timer.resume() }
    }

    public func stop() {
        timer.cancel()
        if !started.exchange(true, ordering: .relaxed) { timer.resume() }
        queue.sync { flush() }
    }

    func flush() {
        let now = Date().timeIntervalSince1970
        let totals = stats.totals()
        do {
            try store.saveStats(totals, time: now, pruneBefore: now - retention)
        } catch {
            logger.error("could not save statistics: \(error)")
        }
        lastFlush.withLock { $0 = (now, totals["req_total"] ?? 0) }
    }

    /// Requests per second since the last flush.
    public func requestRate(now: Double = Date().timeIntervalSince1970) -> Double {
        guard let last = lastFlush.withLock({ $0 }), now > last.time else { return 0 }
        let current = stats.totals()["req_total"] ?? 0
        return (Double(current - last.requests) / (now - last.time) * 10).rounded() / 10
    }
}
