import XCTest

@testable import ServerCore

/// `LRUTable`: bounded, the least recently used key goes first, values of keys still held are
/// kept exactly.
final class LRUTableTests: XCTestCase {
    func add(_ t: inout LRUTable<String, Int>, _ key: String, _ n: Int = 1) {
        t.update(key, orInsert: { 0 }) { $0 += n }
    }

    func testEvictsTheLeastRecentlyUsedKeyFirst() {
        var t = LRUTable<String, Int>(capacity: 3)
        for k in ["a", "b", "c"] { add(&t, k) }
        XCTAssertEqual(t.keysOldestFirst, ["a", "b", "c"])
        add(&t, "a")  // used again: now the newest
        XCTAssertEqual(t.keysOldestFirst, ["b", "c", "a"])
        add(&t, "d")
        XCTAssertEqual(t.keysOldestFirst, ["c", "a", "d"], "b, the least recently used, made room")
        XCTAssertNil(t.peek("b"))
        add(&t, "c")
        add(&t, "e")
        XCTAssertEqual(t.keysOldestFirst, ["d", "c", "e"])
        add(&t, "b")
        XCTAssertEqual(t.peek("b"), 1, "a key that was evicted starts again")
    }

    func testKeepsTheCountsOfKeysStillHeld() {
        var t = LRUTable<String, Int>(capacity: 2)
        add(&t, "a", 5)
        add(&t, "b")
        add(&t, "a", 2)
        add(&t, "c")
        XCTAssertEqual(t.peek("a"), 7)
        XCTAssertEqual(t.peek("c"), 1)
        XCTAssertNil(t.peek("b"))
    }

    func testStaysWithinItsCapacity() {
        var t = LRUTable<Int, Int>(capacity: 100)
        for i in 0..<10_000 {
            t.update(i, orInsert: { 0 }) { $0 += 1 }
            XCTAssertLessThanOrEqual(t.count, 100)
        }
        XCTAssertEqual(t.count, 100)
        XCTAssertEqual(t.keysOldestFirst, Array(9_900..<10_000))
        XCTAssertEqual(t.update(9_950, orInsert: { 0 }) { v -> Int in v += 1; return v }, 2)
    }

    func testACapacityOfOne() {
        var t = LRUTable<String, Int>(capacity: 1)
        add(&t, "a")
        add(&t, "a")
        add(&t, "b")
        XCTAssertEqual(t.keysOldestFirst, ["b"])
        XCTAssertEqual(t.count, 1)
    }
}
