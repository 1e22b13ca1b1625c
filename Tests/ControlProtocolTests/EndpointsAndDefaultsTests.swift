import ControlProtocol
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Endpoint paths and default locations are shared by expctl, expserverd and ops scripts.
final class EndpointsAndDefaultsTests: XCTestCase {
    func testEndpointPaths() {
        XCTAssertEqual(Endpoint.status, "/v1/status")
        XCTAssertEqual(Endpoint.reload, "/v1/reload")
        XCTAssertEqual(Endpoint.audit, "/v1/audit")
        XCTAssertEqual(ControlMethod.get.rawValue, "GET")
        XCTAssertEqual(ControlMethod.post.rawValue, "POST")
        XCTAssertEqual(ControlMethod.delete.rawValue, "DELETE")
    }

    func testSocketEnvironmentVariable() {
        XCTAssertEqual(ControlDefaults.socketEnvironmentVariable, "EXPCTL_SOCKET")
    }

    func testFilesLiveInTheStateDirectory() {
        let dir = ControlDefaults.stateDirectory()
        XCTAssertEqual(ControlDefaults.stateDB(), dir + "/state.db")
        XCTAssertEqual(ControlDefaults.socketPath(), dir + "/expserverd.sock")
    }

    func testRootUsesVarLib() throws {
        guard getuid() == 0 else { throw XCTSkip("runs as root only (uid \(getuid()))") }
        XCTAssertEqual(ControlDefaults.stateDirectory(), "/var/lib/expserver")
        // The environment does not move root's state.
        try withEnvironment(["XDG_STATE_HOME": "/tmp/xdg"]) {
            XCTAssertEqual(ControlDefaults.stateDirectory(), "/var/lib/expserver")
        }
    }

    func testOtherUsersUseXDGThenHome() throws {
        guard getuid() != 0 else { throw XCTSkip("the per-user default applies to non-root users; running as root") }
        try withEnvironment(["XDG_STATE_HOME": "/tmp/xdg", "HOME": "/home/u"]) {
            XCTAssertEqual(ControlDefaults.stateDirectory(), "/tmp/xdg/expserver")
        }
        try withEnvironment(["XDG_STATE_HOME": nil, "HOME": "/home/u"]) {
            XCTAssertEqual(ControlDefaults.stateDirectory(), "/home/u/.local/state/expserver")
        }
        try withEnvironment(["XDG_STATE_HOME": "", "HOME": "/home/u"]) {
            XCTAssertEqual(ControlDefaults.stateDirectory(), "/home/u/.local/state/expserver")
        }
    }

    /// Runs `body` with environment variables set (nil: unset), restoring them afterwards.
    private func withEnvironment(_ values: [String: String?], _ body: () throws -> Void) throws {
        var saved: [String: String?] = [:]
        for (key, value) in values {
            saved[key] = getenv(key).map { String(cString: $0) }
            if let value { setenv(key, value, 1) } else { unsetenv(key) }
        }
        defer {
            for (key, value) in saved {
                if let value { setenv(key, value, 1) } else { unsetenv(key) }
            }
        }
        try body()
    }
}
