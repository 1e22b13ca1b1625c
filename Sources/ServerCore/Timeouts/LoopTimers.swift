import NIOCore

/// The connection deadlines of one event loop, in one `TimingWheel` driven by one repeating
/// task (every `resolution` while any deadline is pending). Confined to its loop.
///
/// A connection arms a deadline with a new generation number; re-arming or cancelling just moves
/// its generation on, and an entry whose generation is no longer the connection's is dropped
/// when it expires. So arming and cancelling cost O(1) however many connections the loop has
/// (NIO's own scheduled tasks are cancelled by a linear search of their heap).
final class LoopTimers {
    /// What a wheel entry calls back.
    protocol Target: AnyObject {
        /// The deadline armed with `generation` has come (called only if it is still current).
        func timerFired()
        var timerGeneration: UInt64 { get }
    }

    private struct Entry {
        let target: Target
        let generation: UInt64
    }

    static let resolution: Int64 = 10_000_000  // 10 ms
    static let slotCount = 1024  // ~10 s per revolution
    /// At most this many deadlines are acted on per tick (the rest wait for the next ones).
    static let maxFiresPerTick = 64

    let eventLoop: EventLoop
    private var wheel: TimingWheel<Entry>
    private var ticking = false

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        wheel = TimingWheel(resolution: Self.resolution, slotCount: Self.slotCount, now: Self.now())
    }

    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    /// Calls `target.timerFired()` at `at` (within one resolution), unless its generation has
    /// moved on from `generation` by then.
    func arm(_ target: Target, generation: UInt64, at: Int64) {
        eventLoop.preconditionInEventLoop()
        wheel.insert(Entry(target: target, generation: generation), at: at)
        if !ticking {
            ticking = true
            scheduleTick()
        }
    }

    private func scheduleTick() {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(in: .nanoseconds(Self.resolution)) { bound.value.tick() }
    }

    private func tick() {
        // Collected first: a target that fires usually arms its next deadline (an insert).
        let now = Self.now()
        var due: [Entry] = []
        wheel.expire(now: now) { due.append($0) }
        var fired = 0
        for entry in due where entry.target.timerGeneration == entry.generation {
            // A burst (thousands of connections opened together reach their deadline together)
            // is spread over several ticks, so that it cannot stall the loop's other work.
            if fired == Self.maxFiresPerTick {
                wheel.insert(entry, at: now)
                continue
            }
            fired += 1
            entry.target.timerFired()
        }
        if wheel.count > 0 {
            scheduleTick()
        } else {
            ticking = false
        }
    }
}

/// One `T` per event loop of a group, looked up without a lock (built once, never mutated; each
/// item is used only on its own loop).
final class PerEventLoop<T: AnyObject>: @unchecked Sendable {
    private let items: [ObjectIdentifier: T]

    init(group: EventLoopGroup, make: (EventLoop) -> T) {
        var items: [ObjectIdentifier: T] = [:]
        for loop in group.makeIterator() { items[ObjectIdentifier(loop)] = make(loop) }
        self.items = items
    }

    func get(_ loop: EventLoop) -> T? { items[ObjectIdentifier(loop)] }
    var all: [T] { Array(items.values) }
}
