import Foundation
@testable import ServerCore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `"access_log": path` writes one nginx combined-format line per response (flushed every 100 ms).
final class AccessLogTests: ServerTestCase {
    /// Polls the log file for up to 2 s until it holds `count` lines.
    func lines(at path: String, atLeast count: Int) -> [String] {
        let deadline = Date().addingTimeInterval(2)
        var lines: [String] = []
        repeat {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n").map(String.init)
            if lines.count >= count { break }
            usleep(20_000)
        } while Date() < deadline
        return lines
    }

    /// A server logging to `access.log` in a new fixture, serving its `public` directory (gzip
    /// on, when asked), after `prepare` has written into the fixture.
    func loggingServer(gzip: Bool = false, prepare: (Fixture) throws -> Void = { _ in }) throws -> (TestServer, Fixture, String) {
        let f = try makeFixture()
        try prepare(f)
        let logPath = f.root.appendingPathComponent("access.log").path
        let server = try startServer("""
            { "access_log": "\(logPath)",
              "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": ".", "gzip_enable": \(gzip) } ] } ] }
            """, fixture: f)
        return (server, f, logPath)
    }

    func testCombinedFormatLines() throws {
        let (server, _, logPath) = try loggingServer()
        XCTAssertEqual(try exchange(server, getRequest("/sample.txt?q=1", headers: ["User-Agent: LogTest/1.0", "Referer: http://r.example/"])).response.status, 200)
        XCTAssertEqual(try exchange(server, getRequest("/missing")).response.status, 404)

        let logged = lines(at: logPath, atLeast: 2)
        XCTAssertEqual(logged.count, 2, "\(logged)")
        guard logged.count == 2 else { return }
        let ok = logged.first { $0.contains("sample.txt") } ?? ""
        XCTAssertTrue(ok.hasPrefix("127.0.0.1 - - ["), ok)
        XCTAssertTrue(ok.contains("] \"GET /sample.txt?q=1 HTTP/1.1\" 200 1242 \"http://r.example/\" \"LogTest/1.0\""), ok)
        // [10/Oct/2000:13:55:36 +0000]
        let time = ok.split(separator: "[").dropFirst().first?.split(separator: "]").first.map(String.init) ?? ""
        XCTAssertNotNil(time.range(of: #"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$"#, options: .regularExpression), time)
        let missing = logged.first { $0.contains("/missing") } ?? ""
        XCTAssertTrue(missing.contains("\"GET /missing HTTP/1.1\" 404 0 \"-\" \"-\""), missing)
    }

    /// Bodies sent from an open file and streamed (gzipped on the fly) are logged too, the
    /// streamed one with the bytes it sent.
    func testFileAndStreamedAnswersAreLogged() throws {
        var text = ""
        for i in 0..<30_000 { text += "line \(i): the quick brown fox jumps over the lazy dog\n" }
        let (server, _, logPath) = try loggingServer(gzip: true) { try $0.write(Data(text.utf8), to: "public/big.txt") }
        let plain = try exchange(server, getRequest("/big.txt")).response
        XCTAssertEqual(plain.body.count, text.utf8.count)
        let gzipped = try exchange(server, getRequest("/big.txt", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(gzipped.header("Content-Encoding"), "gzip")
        let logged = lines(at: logPath, atLeast: 2)
        XCTAssertEqual(logged.count, 2, "\(logged)")
        XCTAssertTrue(logged.contains { $0.contains("\"GET /big.txt HTTP/1.1\" 200 \(text.utf8.count) ") }, "\(logged)")
        // The streamed one: its compressed size (the chunked body, decoded), not 0.
        let streamed = logged.first { !$0.contains(" 200 \(text.utf8.count) ") } ?? ""
        let bytes = streamed.components(separatedBy: "\" 200 ").dropFirst().first?.split(separator: " ").first.flatMap { Int($0) }
        XCTAssertNotNil(bytes, streamed)
        XCTAssertGreaterThan(bytes ?? 0, 1000, streamed)
        XCTAssertLessThan(bytes ?? .max, text.utf8.count / 2, streamed)
    }

    /// An answer still being sent when a reload swaps the config (and its access log) in is
    /// logged when it ends: the old log stays open until then.
    func testAnAnswerStreamedAcrossAReloadIsLogged() throws {
        // Text that gzip cannot shrink much (hex of random bytes), so the stream outlasts the buffers.
        let random = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: 6 << 20)
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8](repeating: 0, count: random.count * 2)
        for (i, b) in random.enumerated() {
            hex[2 * i] = digits[Int(b >> 4)]
            hex[2 * i + 1] = digits[Int(b & 15)]
        }
        let (server, f, logPath) = try loggingServer(gzip: true) { try $0.write(Data(hex), to: "public/big.txt") }
        let client = try RawClient(port: server.port, timeout: 10)
        var size: Int32 = 4096
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        try client.send(getRequest("/big.txt", headers: ["Accept-Encoding: gzip"]))
        let first = try XCTUnwrap(client.readChunk(max: 4096))
        XCTAssertTrue(String(decoding: first.prefix(12), as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        // A config that logs elsewhere: a new snapshot and a new access log.
        let configPath = f.publicDir.appendingPathComponent("xps_config.json").path
        let otherLog = f.root.appendingPathComponent("other.log").path
        try String(contentsOfFile: configPath, encoding: .utf8).replacingOccurrences(of: logPath, with: otherLog)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        try server.server.apply(ConfigLoader.load(path: configPath))
        XCTAssertEqual(server.server.state.current.accessLog?.path, otherLog)
        size = 1 << 20  // then read the rest at speed
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let rest = client.readAll()
        XCTAssertTrue(rest.closed, "the whole stream (Connection: close)")
        let logged = lines(at: logPath, atLeast: 1)
        XCTAssertTrue(logged.contains { $0.contains("\"GET /big.txt HTTP/1.1\" 200 ") }, "\(logged)")
        XCTAssertEqual(try exchange(server, getRequest("/missing")).response.status, 404)
        XCTAssertEqual(lines(at: otherLog, atLeast: 1).count, 1, "later answers go to the new log")
    }

    /// A reload that names the same log keeps the running one (no second descriptor and flush
    /// thread per reload while idle connections hold the old snapshot).
    func testAReloadWithTheSameLogKeepsIt() throws {
        let (server, f, logPath) = try loggingServer()
        let before = try XCTUnwrap(server.server.state.current.accessLog)
        try server.server.apply(ConfigLoader.load(path: f.publicDir.appendingPathComponent("xps_config.json").path))
        XCTAssertTrue(server.server.state.current.accessLog === before)
        XCTAssertEqual(try exchange(server, getRequest("/sample.txt")).response.status, 200)
        XCTAssertEqual(lines(at: logPath, atLeast: 1).count, 1, "and it still writes")
    }

    /// After `close` (shutdown) a late line is dropped: never written to the descriptor number,
    /// which something else may have opened since.
    func testALineAfterCloseIsDropped() throws {
        let f = try makeFixture()
        let path = f.root.appendingPathComponent("closed.log").path
        let log = try AccessLog(destination: path)
        log.append("before")
        log.close()
        let other = open(f.root.appendingPathComponent("other").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)  // likely the same number
        defer { Glibc.close(other) }
        log.append("after")
        log.flush()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "before\n")
        XCTAssertEqual(try String(contentsOfFile: f.root.appendingPathComponent("other").path, encoding: .utf8), "")
    }
}
