import ControlProtocol
import Foundation
import XCTest

@testable import ServerCore

/// The SQLite store on real files in a temporary directory: migrations on a fresh file, the audit
/// contract, durability across reopen, and two stores sharing one file (WAL).
final class SQLiteStateStoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("expserver-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
        super.tearDown()
    }

    var dbPath: String { dir.appendingPathComponent("state.db").path }

    func testFreshFileIsMigratedAndCreatesItsDirectory() throws {
        let path = dir.appendingPathComponent("nested/deeper/state.db").path
        let store = try SQLiteStateStore(path: path)
        XCTAssertEqual(store.path, path)
        let header = try XCTUnwrap(FileManager.default.contents(atPath: path)).prefix(16)
        XCTAssertEqual(Array(header), Array("SQLite format 3\0".utf8))
        // Both migrations ran: the audit and acl tables answer.
        XCTAssertEqual(try store.audit(since: nil, limit: 10), [])
        XCTAssertEqual(try store.aclEntries(), [])
        XCTAssertEqual(try store.appendAudit(StateStoreContract.record(1)), 1)
    }

    /// Commits are fsynced: the writer runs with `synchronous = FULL` (2), not the NORMAL (1) that
    /// GRDB's WAL set-up leaves, on a fresh file and on reopen.
    func testWriterIsSynchronousFull() throws {
        XCTAssertEqual(try SQLiteStateStore(path: dbPath).writerSynchronous, 2)
        let reopened = try SQLiteStateStore(path: dbPath)
        try reopened.appendAudit(StateStoreContract.record(1))
        XCTAssertEqual(try reopened.writerSynchronous, 2)
    }

    /// The state is the operator's alone: a new database and its -wal/-shm are 0600, the
    /// directories the store creates 0700 (they were 0644 and 0755 under the usual umask 022).
    func testNewFilesAndDirectoriesArePrivate() throws {
        let old = umask(0o022)
        defer { umask(old) }
        func mode(_ p: String) throws -> Int {
            try XCTUnwrap(FileManager.default.attributesOfItem(atPath: p)[.posixPermissions] as? Int, p) & 0o777
        }
        let existing = try mode(dir.path)
        let path = dir.appendingPathComponent("nested/deeper/state.db").path
        let store = try SQLiteStateStore(path: path)
        try store.appendAudit(StateStoreContract.record(1))
        for file in [path, path + "-wal", path + "-shm"] {
            XCTAssertEqual(String(try mode(file), radix: 8), "600", file)
        }
        for d in ["nested", "nested/deeper"] {
            XCTAssertEqual(String(try mode(dir.appendingPathComponent(d).path), radix: 8), "700", d)
        }
        XCTAssertEqual(try mode(dir.path), existing, "an existing directory is left as it is")
    }

    func testAppendAndReadBack() throws { try StateStoreContract.appendAndReadBack(try SQLiteStateStore(path: dbPath)) }
    func testSinceAndLimit() throws { try StateStoreContract.sinceAndLimit(try SQLiteStateStore(path: dbPath)) }
    func testIDs() throws { try StateStoreContract.idsAreUniqueAndIncreasing(try SQLiteStateStore(path: dbPath)) }

    func testReopenKeepsRecordsAndDoesNotMigrateAgain() throws {
        var expected: [AuditEntry] = []
        do {
            let store = try SQLiteStateStore(path: dbPath)
            for i in 1...5 { try store.appendAudit(StateStoreContract.record(Double(i), "act\(i)", reason: "r\(i)")) }
            expected = try store.audit(since: nil, limit: 100)
        }
        XCTAssertEqual(expected.count, 5)
        let reopened = try SQLiteStateStore(path: dbPath)
        XCTAssertEqual(try reopened.audit(since: nil, limit: 100), expected)
        let next = try reopened.appendAudit(StateStoreContract.record(6))
        XCTAssertEqual(next, expected.last!.id + 1)
        // And a third open still works (migrations are recorded, not re-run).
        XCTAssertEqual(try SQLiteStateStore(path: dbPath).audit(since: nil, limit: 100).count, 6)
    }

    func testTwoStoresOnOneFileSeeEachOthersCommits() throws {
        let a = try SQLiteStateStore(path: dbPath)
        let b = try SQLiteStateStore(path: dbPath)
        let idA = try a.appendAudit(StateStoreContract.record(1, "from-a"))
        XCTAssertEqual(try b.audit(since: nil, limit: 10).map(\.action), ["from-a"])
        let idB = try b.appendAudit(StateStoreContract.record(2, "from-b"))
        XCTAssertGreaterThan(idB, idA)
        XCTAssertEqual(try a.audit(since: nil, limit: 10).map(\.action), ["from-a", "from-b"])
    }

    func testTwoStoresWritingConcurrently() throws {
        let a = try SQLiteStateStore(path: dbPath)
        let b = try SQLiteStateStore(path: dbPath)
        let failures = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: 100) { i in
            do { try (i % 2 == 0 ? a : b).appendAudit(StateStoreContract.record(Double(i), "w\(i)")) } catch { failures.add() }
        }
        XCTAssertEqual(failures.value, 0)
        let entries = try a.audit(since: nil, limit: 1000)
        XCTAssertEqual(entries.count, 100)
        XCTAssertEqual(Set(entries.map(\.action)).count, 100)
        XCTAssertEqual(entries.map(\.id), entries.map(\.id).sorted())
    }

    func testUnwritableLocationThrows() {
        XCTAssertThrowsError(try SQLiteStateStore(path: "/proc/expserver-cannot-be-here/state.db"))
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
