import Foundation
import XCTest

/// A state db that cannot be used stops the start with a message naming `state_db` and the
/// file: a path that can never be a db file (empty, a directory) is a config error, exit 2; a
/// file SQLite refuses (corrupted, unreadable) is exit 1 with SQLite's reason after the path.
final class StateDBErrorsE2ETests: E2ETestCase {
    func start(stateDB: String) throws -> CommandResult {
        try writeConfig(configJSON(ports: [freePort()]).replacingOccurrences(of: "\"\(stateDBPath)\"", with: "\"\(stateDB)\""))
        let daemon = try launchDaemon([configPath])
        let status = waitForExit(daemon)
        XCTAssertFalse(fileExists(socketPath), "nothing was started")
        return CommandResult(status: status ?? -1, stdout: "", stderr: daemon.stderr)
    }

    func testEmptyPathIsAConfigError() throws {
        let r = try start(stateDB: "")
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("config error: state_db: must not be empty"), r.stderr)
    }

    func testDirectoryIsAConfigErrorNamingIt() throws {
        let r = try start(stateDB: dir + "/public")
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("config error: state_db: \"\(dir!)/public\" is a directory"), r.stderr)
    }

    func testCorruptedDatabaseIsNamed() throws {
        try String(repeating: "this is not an SQLite database\n", count: 200).write(toFile: stateDBPath, atomically: true, encoding: .utf8)
        let r = try start(stateDB: stateDBPath)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("expserverd: state_db \(stateDBPath): "), r.stderr)
        XCTAssertTrue(r.stderr.contains("not a database"), r.stderr)
    }
}
