import ControlProtocol
import Foundation
import XCTest
@testable import ServerCore
import TestSupport

/// The control socket file: its mode, replacing a stale one, refusing a live one or a non-socket,
/// and removal on shutdown.
final class ControlSocketFileTests: DaemonTestCase {
    func mode(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o7777
    }

    func testSocketIsCreatedWithMode0600() throws {
        try startDaemon(ports: [freePort()])
        XCTAssertEqual(mode(socketPath), 0o600)
    }

    func testConfiguredMode() throws {
        try startDaemon(ports: [freePort()], control: #""mode": "0660""#)
        XCTAssertEqual(mode(socketPath), 0o660)
    }

    func testShutdownRemovesTheSocket() throws {
        try startDaemon(ports: [freePort()])
        XCTAssertTrue(ControlServer.isLive(socketPath))
        daemon?.shutdown(grace: .zero)
        daemon = nil
        XCTAssertNil(mode(socketPath), "socket file removed")
    }

    func testStaleSocketFileIsReplaced() throws {
        try makeStaleSocket(at: socketPath)
        XCTAssertNotNil(mode(socketPath))
        XCTAssertFalse(ControlServer.isLive(socketPath))
        try startDaemon(ports: [freePort()])
        XCTAssertEqual(try control("GET", Endpoint.status).status, 200)
        XCTAssertEqual(mode(socketPath), 0o600)
    }

    func testSecondDaemonOnALiveSocketRefusesToStart() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        try writeConfig(configJSON(ports: [freePort()]))
        XCTAssertThrowsError(try makeDaemon()) { error in
            guard case ControlSocketError.inUse(let path) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, socketPath)
            XCTAssertTrue("\(error)".contains("another expserverd is running"), "\(error)")
        }
        XCTAssertEqual(try control("GET", Endpoint.status).json(StatusResponse.self).listeners, ["127.0.0.1:\(port)"],
                       "the first daemon still owns the socket")
        XCTAssertEqual(try getHello(port: port).status, 200)
    }

    func testANonSocketFileIsLeftAlone() throws {
        try "precious".write(toFile: socketPath, atomically: true, encoding: .utf8)
        let port = freePort()
        try writeConfig(configJSON(ports: [port]))
        XCTAssertThrowsError(try makeDaemon()) { error in
            XCTAssertTrue("\(error)".contains("is not a socket"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOfFile: socketPath, encoding: .utf8), "precious")
        XCTAssertThrowsError(try RawClient(port: port), "the HTTP listener was released")
    }

    /// Leaves a socket file that nothing listens on (as a daemon killed with -9 does).
    func makeStaleSocket(at path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else { throw TestError("bind failed: \(errno)") }
    }
}
