import ControlProtocol
import Foundation
import XCTest
import TestSupport

/// Control requests that wait on SQLite (another writer holds the lock; the busy timeout is
/// 5 s) run on the control server's own thread pool: file serving's pool (directory listings,
/// gzip) stays free and a listing is answered at once.
final class ControlThreadPoolTests: DaemonTestCase {
    func testListingIsAnsweredWhileControlRequestsWaitOnALockedDB() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        let locker = try SQLiteWriteLock(path: stateDBPath, seconds: 3)
        defer { locker.stop() }

        // More waiting control requests than either pool has threads.
        let done = DispatchGroup()
        for i in 0..<3 {
            DispatchQueue.global().async(group: done) { [socketPath] in
                let body = #"{"cidr":"192.0.2.\#(i)","action":"deny"}"#
                _ = try? UnixClient(path: socketPath, timeout: 15).exchangeOnce("POST", Endpoint.acl, body: body)
            }
        }
        usleep(300_000)  // let them reach the store and block there
        XCTAssertTrue(locker.isRunning, "the lock is still held")

        let started = Date()
        let listing = try RawClient(port: port, timeout: 10)
        try listing.send("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let r = try listing.readResponse()
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.text.contains("hello.txt"), r.text)
        XCTAssertLessThan(elapsed, 1, "the listing waited for the control plane's SQLite waits")
        XCTAssertTrue(locker.isRunning, "measured while the lock was held")
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
    }
}

extension UnixClient {
    func exchangeOnce(_ method: String, _ target: String, body: String) throws -> HTTPResult {
        try send(Self.request(method, target, body: Array(body.utf8), keepAlive: false))
        return try readResponse()
    }
}

/// A python3 process holding SQLite's write lock on `path` (BEGIN IMMEDIATE) for `seconds`;
/// returns once it holds it. Skips the test when python3 is missing; `stop()` ends it by pid.
final class SQLiteWriteLock {
    private let process = Process()

    init(path: String, seconds: Double) throws {
        let out = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("BEGIN IMMEDIATE")
            print("locked", flush=True)
            time.sleep(float(sys.argv[2]))
            c.execute("ROLLBACK")
            """, path, String(seconds)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw XCTSkip("cannot run python3: \(error)") }
        let line = out.fileHandleForReading.availableData  // "locked\n", or EOF if it failed
        guard String(decoding: line, as: UTF8.self).hasPrefix("locked") else {
            stop()
            throw XCTSkip("python3 could not lock \(path)")
        }
    }

    var isRunning: Bool { process.isRunning }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}
