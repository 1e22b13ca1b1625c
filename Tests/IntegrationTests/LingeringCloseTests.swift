import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A connection closed while the client is still sending a request body (a 413 at the head, an
/// early proxied answer) closes with a lingering close, as nginx's: FIN after the answer, then
/// what the client still sends is read and dropped for a while. A plain close with input unread
/// resets the connection, and a reset can destroy the answer before the client has read it
/// (clients on some systems drop received data on a reset).
final class LingeringCloseTests: ServerTestCase {
    /// Sends `bytes` in pieces; the errno of the first send that fails, nil if all went.
    func keepSending(_ client: RawClient, bytes: Int) -> Int32? {
        let piece = [UInt8](repeating: 0x61, count: 16 << 10)
        for _ in 0..<(bytes / piece.count) {
            let n = piece.withUnsafeBytes { Glibc.send(client.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 { return errno }
            usleep(2_000)
        }
        return nil
    }

    func testA413WhileTheBodyIsComingIsFollowedByALingeringClose() throws {
        let server = try startServer("""
            { "workers": 1, "limits": { "max_body_bytes": 1024 }, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "." } ] } ] }
            """)
        let client = try RawClient(port: server.port)
        try client.send("POST /sample.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8388608\r\n\r\n")
        try client.send([UInt8](repeating: 0x61, count: 64 << 10))
        let (bytes, closed) = client.readAll()
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 413"))
        XCTAssertTrue(closed, "FIN after the answer")
        // The rest of the body is still taken (and dropped), not refused with a reset.
        XCTAssertNil(keepSending(client, bytes: 512 << 10), "the connection was reset")
    }

    /// A client that never closes its side is cut off after the linger time (2 s), not at once.
    func testALingeringConnectionIsCutOffAfterTheLingerTime() throws {
        let server = try startServer("""
            { "workers": 1, "limits": { "max_body_bytes": 1024 }, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "." } ] } ] }
            """)
        let client = try RawClient(port: server.port, timeout: 10)
        try client.send("POST /sample.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8388608\r\n\r\n")
        XCTAssertTrue(client.readAll().closed)
        let start = Date()
        // Still sending, never closing: reset once the linger time (2 s) is over.
        var failed: Int32?
        for _ in 0..<2_000 where failed == nil {
            failed = keepSending(client, bytes: 16 << 10)
        }
        XCTAssertNotNil(failed, "the lingering connection was never closed")
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 1.0, "closed at once, not after lingering")
    }
}
