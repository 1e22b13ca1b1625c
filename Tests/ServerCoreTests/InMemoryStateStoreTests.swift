import XCTest

@testable import ServerCore

/// The in-memory test double keeps the same audit contract as the SQLite store.
final class InMemoryStateStoreTests: XCTestCase {
    func testAppendAndReadBack() throws { try StateStoreContract.appendAndReadBack(InMemoryStateStore()) }
    func testSinceAndLimit() throws { try StateStoreContract.sinceAndLimit(InMemoryStateStore()) }
    func testIDs() throws { try StateStoreContract.idsAreUniqueAndIncreasing(InMemoryStateStore()) }

    func testConcurrentAppendsAllLand() throws {
        let store = InMemoryStateStore()
        DispatchQueue.concurrentPerform(iterations: 200) { i in
            _ = try? store.appendAudit(StateStoreContract.record(Double(i)))
        }
        let ids = try store.audit(since: nil, limit: 1000).map(\.id)
        XCTAssertEqual(ids.count, 200)
        XCTAssertEqual(Set(ids).count, 200)
    }
}
