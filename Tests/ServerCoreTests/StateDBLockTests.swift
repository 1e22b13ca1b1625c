import Foundation
import XCTest

@testable import ServerCore

/// One daemon per state db: the lock file, and the directories it is the first to create.
final class StateDBLockTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dblock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
        super.tearDown()
    }

    func testASecondLockIsRefusedUntilTheFirstIsReleased() throws {
        let db = dir + "/state.db"
        let first = try StateDBLock(dbPath: db)
        XCTAssertThrowsError(try StateDBLock(dbPath: db)) { error in
            XCTAssertTrue("\(error)".contains("another expserverd is using it"), "\(error)")
        }
        first.release()
        XCTAssertNoThrow(try StateDBLock(dbPath: db).release())
    }

    /// The lock is taken before the store opens, so it makes the db's missing directories: 0700,
    /// as the store would (the audit log is not for every local user).
    func testTheDirectoriesItCreatesArePrivate() throws {
        let old = umask(0o022)
        defer { umask(old) }
        let lock = try StateDBLock(dbPath: dir + "/a/b/state.db")
        defer { lock.release() }
        for d in ["/a", "/a/b"] {
            let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: dir + d)[.posixPermissions] as? Int)
            XCTAssertEqual(String(mode & 0o777, radix: 8), "700", d)
        }
    }
}
