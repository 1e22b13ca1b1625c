import NIOCore

/// The connection deadlines of one event loop, in one `TimingWheel` driven by one repeating
/// task (every `resolution` while any deadline is pending). Confined to its loop.
///
/// A connection registers once for a slot (`register`); arming a deadline moves the slot's
/// generation on and puts (slot, generation) in the wheel; re-arming or cancelling just moves the
/// generation on, and an entry whose generation is no longer its slot's is dropped when it
/// expires. So arming and cancelling cost O(1) however many connections the loop has (NIO's own
/// scheduled tasks are cancelled by a linear search of their heap). Entries hold no reference to
/// their connection: a closed connection `release`s its slot (reused by a later one), and what is
/// left of it in the wheel until its time is a few integers, not the connection's objects.
final class LoopTimers {
    /// What a wheel entry calls back.
    protocol Target: AnyObject {
        /// The deadline armed last has come (called only if it is still armed).
        func timerFired()
    }

    private struct Slot {
        var target: Target?
        var generation: UInt64 = 0
    }

    private struct Entry {
        let slot: Int
        let generation: UInt64
    }

    static let resolution: Int64 = 10_000_000  // 10 ms
    static let slotCount = 1024  // ~10 s per revolution
    /// At most this many deadlines are acted on per tick (the rest wait for the next ones).
    static let maxFiresPerTick = 64

    let eventLoop: EventLoop
    private var wheel: TimingWheel<Entry>
    private var ticking = false
    private var slots: [Slot] = []
    private var freeSlots: [Int] = []

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        wheel = TimingWheel(resolution: Self.resolution, slotCount: Self.slotCount, now: Self.now())
    }

    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    /// A slot for `target`'s deadlines, kept until `release`.
    func register(_ target: Target) -> Int {
        eventLoop.preconditionInEventLoop()
        if let slot = freeSlots.popLast() {
            slots[slot].target = target
            return slot
        }
        slots.append(Slot(target: target))
        return slots.count - 1
    }

    /// The slot's target is done with (its connection closed): its armed deadline is cancelled and
    /// the target no longer referenced.
    func release(_ slot: Int) {
        slots[slot].target = nil
        slots[slot].generation &+= 1
        freeSlots.append(slot)
    }

    /// Calls the slot's `timerFired()` at `at` (within one resolution), unless it is re-armed,
    /// cancelled or released by then. (One deadline per slot: this replaces the armed one.)
    func arm(_ slot: Int, at: Int64) {
        eventLoop.preconditionInEventLoop()
        slots[slot].generation &+= 1
        wheel.insert(Entry(slot: slot, generation: slots[slot].generation), at: at)
        if !ticking {
            ticking = true
            scheduleTick()
        }
    }

    func cancel(_ slot: Int) {
        slots[slot].generation &+= 1
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
        for entry in due where slots[entry.slot].generation == entry.generation {
            // A burst (thousands of connections opened together reach their deadline together)
            // is spread over several ticks, so that it cannot stall the loop's other work.
            if fired == Self.maxFiresPerTick {
                wheel.insert(entry, at: now)
                continue
            }
            fired += 1
            let target = slots[entry.slot].target  // (not called inside an access to `slots`: it re-arms)
            target?.timerFired()
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
