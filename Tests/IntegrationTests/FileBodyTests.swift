import Foundation
import XCTest

@testable import ServerCore

/// Files too large to keep in memory are sent from an open descriptor: what a connection holds
/// open and queued must stay bounded, and a descriptor must be closed on every path, including
/// the answers that are never sent.
final class FileBodyTests: ServerTestCase {
    static let bigSize = (1 << 20) + (1 << 19)  // 1.5 MiB: past the in-memory limit, two regions

    func config(limits: String = "") -> String {
        """
        { "workers": 1, \(limits.isEmpty ? "" : "\"limits\": { \(limits) },")
          "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
            "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] } ] }
        """
    }

    /// This process's open descriptors on `path` (the server runs in it).
    func openDescriptors(on path: String) -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == real }.count
    }

    func startWithBigFile(limits: String = "") throws -> (TestServer, String) {
        let fixture = try makeFixture()
        try fixture.write(Data(Fixture.bytes(ofSize: Self.bigSize)), to: "public/big.bin")
        let s = try startServer(config(limits: limits), fixture: fixture)
        return (s, fixture.publicDir.appendingPathComponent("big.bin").path)
    }

    /// A file answer is decided (and the file opened) at the request's head and sent at its end:
    /// when the end never comes (the client leaves, the body is malformed, or too large), the file
    /// is closed all the same.
    /// A 413, and a bad body's 400, count for the route the request went to, whether refused at
    /// the head or while the body was read.
    func testA413CountsForItsRoute() throws {
        let s = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public", "max_body_bytes": 100 } ] } ] }
            """)
        for request in ["POST /sample.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
                        "POST /sample.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" + String(repeating: "a", count: 128) + "\r\n"] {
            let client = try RawClient(port: s.port, timeout: 5)
            try client.send(request)
            XCTAssertEqual(try client.readResponse().status, 413)
        }
        let client = try RawClient(port: s.port, timeout: 5)
        try client.send("POST /sample.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        XCTAssertEqual(try client.readResponse().status, 400)
        let routes = s.server.state.current.config.routeStats.all
        XCTAssertEqual(routes.count, 1)
        XCTAssertEqual(routes.first?.1.status(4), 3, "\(routes.map(\.0))")
        XCTAssertEqual(s.server.state.stats.all.status(4), 3)
    }

    func testAnswersThatAreNeverSentCloseTheirFiles() throws {
        let (s, path) = try startWithBigFile(limits: #""max_body_bytes": 100"#)
        let requests = [
            "GET /big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",  // the client leaves mid-body
            "POST /big.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  // malformed: 400
            "POST /big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",  // too large at the head: 413
            "POST /big.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" + String(repeating: "a", count: 128) + "\r\n",  // too large while read: 413
        ]
        for request in requests {
            for _ in 0..<5 {
                let client = try RawClient(port: s.port, timeout: 5)
                try client.send(request)
                usleep(20_000)  // (closed as it goes out of scope)
            }
        }
        let closed = pollUntil(timeout: 5) { openDescriptors(on: path) == 0 }
        XCTAssertTrue(closed, "\(openDescriptors(on: path)) descriptors of big.bin still open")
        // And the file is still served.
        let r = try exchange(s, "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").response
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.body.count, Self.bigSize)
    }

    /// A file truncated while regions of it are queued closes the connection promptly (sendfile
    /// past its end sends nothing and was retried, spinning the event loop, until `send_ms`).
    func testAFileTruncatedWhileSentClosesTheConnection() throws {
        let fixture = try makeFixture()
        let size = 32 << 20  // (more than the socket buffers hold: regions are still queued)
        try fixture.write(Data(count: size), to: "public/huge.bin")
        let path = fixture.publicDir.appendingPathComponent("huge.bin").path
        let s = try startServer(config(), fixture: fixture)
        let client = try RawClient(port: s.port, timeout: 10)
        var buffer: Int32 = 65536
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        try client.send("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try XCTUnwrap(client.readChunk(max: 4096), "the answer started")
        usleep(300_000)  // (the socket buffers full, two regions queued)
        XCTAssertEqual(truncate(path, 100_000), 0)
        let started = Date()
        let rest = client.readAll()
        XCTAssertTrue(rest.closed, "closed, not left waiting for bytes that cannot come")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "closed by the size check, not by a deadline")
        XCTAssertLessThan(first.count + rest.bytes.count, size)
        // The server goes on serving.
        let r = try exchange(s, "GET /huge.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").response
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.body.count, 100_000)
    }

    /// Pipelined requests for a large file are answered one after the other, each file opened when
    /// its turn comes: a client that sends many and reads nothing holds one descriptor, not one
    /// per request. Then every answer arrives whole and in order.
    func testPipelinedFileRequestsHoldOneFileAtATime() throws {
        let (s, path) = try startWithBigFile()
        let count = 20
        let client = try FramedClient(port: s.port, timeout: 10)
        var size: Int32 = 65536
        setsockopt(client.raw.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        try client.send(String(repeating: "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", count: count))
        usleep(500_000)  // the server has read them all and written what the socket takes
        XCTAssertLessThanOrEqual(openDescriptors(on: path), 1)
        let expected = Fixture.bytes(ofSize: Self.bigSize)
        for i in 0..<count {
            let (r, _) = try client.readResponse()
            XCTAssertEqual(r.status, 200, "answer \(i)")
            XCTAssertTrue(r.body == expected, "answer \(i): \(r.body.count) bytes")
        }
        XCTAssertTrue(pollUntil(timeout: 5) { openDescriptors(on: path) == 0 })
    }
}

extension Fixture {
    /// The bytes `FileBodyTests` writes to big.bin.
    static func bytes(ofSize size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) } }
}
