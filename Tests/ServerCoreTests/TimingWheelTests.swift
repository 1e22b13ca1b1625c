import XCTest

@testable import ServerCore

/// The hashed timing wheel behind connection deadlines: every entry comes out exactly once, not
/// before its time and within one resolution after it, however far ahead it was set.
final class TimingWheelTests: XCTestCase {
    func testEntriesExpireAtTheirTime() {
        var wheel = TimingWheel<String>(resolution: 10, slotCount: 8, now: 0)
        wheel.insert("a", at: 25)
        wheel.insert("b", at: 25)
        wheel.insert("c", at: 41)
        XCTAssertEqual(wheel.count, 3)
        var out: [String] = []
        wheel.expire(now: 24) { out.append($0) }
        XCTAssertEqual(out, [])
        wheel.expire(now: 25) { out.append($0) }
        XCTAssertEqual(out, ["a", "b"])
        wheel.expire(now: 40) { out.append($0) }
        XCTAssertEqual(out, ["a", "b"], "c is due at 41, in the same bucket")
        wheel.expire(now: 41) { out.append($0) }
        XCTAssertEqual(out, ["a", "b", "c"])
        XCTAssertEqual(wheel.count, 0)
    }

    func testEntriesBeyondOneRevolutionWait() {
        var wheel = TimingWheel<Int>(resolution: 10, slotCount: 8, now: 0)  // one revolution = 80
        wheel.insert(1, at: 505)
        var out: [Int] = []
        for now in stride(from: 0, through: 500, by: 10) { wheel.expire(now: Int64(now)) { out.append($0) } }
        XCTAssertEqual(out, [], "its bucket came round six times before it was due")
        wheel.expire(now: 510) { out.append($0) }
        XCTAssertEqual(out, [1])
    }

    func testLongJumpsAndPastDeadlines() {
        var wheel = TimingWheel<Int>(resolution: 10, slotCount: 8, now: 1000)
        wheel.insert(1, at: 990)  // already past: out at the next expiry
        wheel.insert(2, at: 1_050)
        wheel.insert(3, at: 9_999)
        var out: [Int] = []
        wheel.expire(now: 1000) { out.append($0) }
        XCTAssertEqual(out, [1])
        wheel.expire(now: 5_000) { out.append($0) }  // many revolutions at once
        XCTAssertEqual(out, [1, 2])
        wheel.expire(now: 20_000) { out.append($0) }
        XCTAssertEqual(out, [1, 2, 3])
        XCTAssertEqual(wheel.count, 0)
    }

    /// Random inserts and expiries against a plain list: same entries out, each once, each at or
    /// after its time and no later than the first expiry at or after it.
    func testAgainstAModel() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var wheel = TimingWheel<Int>(resolution: 7, slotCount: 16, now: 0)
            var model: [(at: Int64, id: Int)] = []
            var now: Int64 = 0
            var next = 0
            for _ in 0..<400 {
                if Bool.random(using: &rng) {
                    let at = now + Int64.random(in: -20...600, using: &rng)
                    wheel.insert(next, at: at)
                    model.append((at, next))
                    next += 1
                } else {
                    now += Int64.random(in: 0...120, using: &rng)
                    var got: [Int] = []
                    wheel.expire(now: now) { got.append($0) }
                    let due = model.filter { $0.at <= now }.map(\.id)
                    model.removeAll { $0.at <= now }
                    XCTAssertEqual(Set(got), Set(due))
                    XCTAssertEqual(got.count, due.count)
                    XCTAssertEqual(wheel.count, model.count)
                }
            }
        }
    }
}
