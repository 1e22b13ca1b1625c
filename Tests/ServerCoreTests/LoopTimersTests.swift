import NIOCore
import NIOEmbedded
import XCTest

@testable import ServerCore

/// A loop's deadlines: fired once when due, never after a cancel or release, and a released
/// slot keeps nothing of its target while its entries wait in the wheel.
final class LoopTimersTests: XCTestCase {
    final class Target: LoopTimers.Target {
        var fired = 0
        func timerFired() { fired += 1 }
    }

    func testAReleasedSlotKeepsNothingOfItsTarget() {
        let loop = EmbeddedEventLoop()
        let timers = LoopTimers(eventLoop: loop)
        weak var closed: Target?
        do {
            let target = Target()
            closed = target
            let slot = timers.register(target)
            timers.arm(slot, at: LoopTimers.now() + 60_000_000_000)  // a minute away: its entry stays in the wheel
            timers.release(slot)  // the connection closed
        }
        XCTAssertNil(closed, "the wheel's entry does not keep a closed connection's timer alive")

        // The slot is reused; the earlier owner's entry does not fire for the new one.
        let next = Target()
        let slot = timers.register(next)
        XCTAssertEqual(slot, 0, "reused")
        timers.arm(slot, at: LoopTimers.now())
        loop.advanceTime(by: .milliseconds(20))
        XCTAssertEqual(next.fired, 1)
        timers.arm(slot, at: LoopTimers.now())
        timers.cancel(slot)
        loop.advanceTime(by: .milliseconds(20))
        XCTAssertEqual(next.fired, 1, "cancelled")
        timers.arm(slot, at: LoopTimers.now() + 60_000_000_000)
        timers.arm(slot, at: LoopTimers.now())  // re-armed earlier: the later entry is stale
        loop.advanceTime(by: .milliseconds(20))
        XCTAssertEqual(next.fired, 2)
    }
}
