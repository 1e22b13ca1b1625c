import Foundation
import XCTest

@testable import ServerCore

/// 500 connections trickling a header byte every 100 ms while a normal client makes requests:
/// every normal request succeeds, and every slow connection is closed at its deadline.
final class SlowlorisTests: ServerTestCase {
    func testSlowlorisDoesNotStarveNormalClients() throws {
        let s = try startServer("""
            { "workers": 2, "timeouts": { "header_ms": 1500 },
              "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] } ] }
            """)
        let slowCount = 500
        var slow: [RawClient] = []
        for _ in 0..<slowCount { slow.append(try RawClient(port: s.port, timeout: 10)) }
        let line = Array("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
        let start = Date()
        var served = 0
        var failures = 0
        var step = 0
        // Trickle for up to ~2.5 s (bounded), a normal request between rounds.
        while Date().timeIntervalSince(start) < 2.5 {
            let byte = [line[min(step, line.count - 1)]]
            for c in slow { try? c.send(byte) }
            step += 1
            do {
                let r = try s.get("/sample.txt")
                if r.status == 200 { served += 1 } else { failures += 1 }
            } catch {
                failures += 1
            }
            usleep(100_000)
        }
        XCTAssertGreaterThan(served, 5)
        XCTAssertEqual(failures, 0)
        // Every slow connection was closed at its deadline (header_ms after its first byte).
        let deadline = Date().addingTimeInterval(5)
        while s.server.state.connectionStats.timeouts(.header) < slowCount && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(s.server.state.connectionStats.timeouts(.header), slowCount)
        for c in slow { XCTAssertTrue(c.readAll().closed) }
    }
}
