import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// The statistics' bytes sent are every byte the client gets for its answers (heads, bodies and
/// chunk framing, as HAProxy's `bytes_out`): for a file, a generated 404, a streamed gzip body and
/// a proxied answer, the counter moves by exactly what a client read on a connection closed after
/// the answer, overall and for the route. (The access log keeps the body's bytes.)
final class SentBytesTests: ProxyTestCase {
    func testBytesSentAreWhatTheClientReceived() throws {
        let ups = try fakes("a", behavior: .init(bodyBytes: 5_000))
        let fixture = try makeFixture()
        var text = ""
        for i in 0..<30_000 { text += "line \(i): the quick brown fox jumps over the lazy dog\n" }  // > 1 MiB: streamed
        try fixture.write(Data(text.utf8), to: "public/big.txt")
        let s = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/up", "type": "reverse_proxy", "upstreams": [\(quoted(ups[0]))] },
                          { "req_path": "/", "type": "file_serve", "dir_path": "../public", "gzip_enable": true } ] } ] }
            """, fixture: fixture)
        let stats = s.server.state.stats
        let requests: [(String, String)] = [
            ("file", "GET /sample.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
            ("404", "GET /missing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
            ("gzip stream", "GET /big.txt HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"),
            ("proxied", "GET /up/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
            // (The interim 100 Continue counts too; the body goes along at once, as a client that
            // does not wait for it may.)
            ("100-continue", "POST /sample.txt HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"),
        ]
        for (name, request) in requests {
            let route = try XCTUnwrap(s.server.state.current.config.routeStats.all.first { $0.0.contains(name == "proxied" ? "/up" : "servers[0] /") }?.1, name)
            let before = (stats.all.bytesOut, route.bytesOut)
            let client = try RawClient(port: s.port, timeout: 20)
            try client.send(request)
            let got = client.readAll()
            XCTAssertTrue(got.closed, name)
            XCTAssertGreaterThan(got.bytes.count, 100, name)
            // (Streamed bodies are counted when the stream has ended, just after the last write.)
            XCTAssertTrue(pollUntil(timeout: 5) { stats.all.bytesOut - before.0 == got.bytes.count },
                          "\(name): counted \(stats.all.bytesOut - before.0), the client got \(got.bytes.count)")
            XCTAssertEqual(route.bytesOut - before.1, got.bytes.count, name)
        }
    }

    /// A download the client abandons is counted and logged with what went (to a 1 MiB region),
    /// not the file's length: nginx's `$body_bytes_sent`, HAProxy's `bytes_out`.
    func testAnAbandonedDownloadCountsWhatWent() throws {
        let fixture = try makeFixture()
        let size = 64 << 20
        try fixture.write(Data(count: size), to: "public/huge.bin")
        let log = fixture.root.appendingPathComponent("access.log").path
        let s = try startServer("""
            { "workers": 1, "access_log": "\(log)", "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] } ] }
            """, fixture: fixture)
        let stats = s.server.state.stats
        let before = stats.all.bytesOut
        do {
            let client = try RawClient(port: s.port, timeout: 5)
            try client.send("GET /huge.bin HTTP/1.1\r\nHost: h\r\n\r\n")
            var got = 0
            while got < 1 << 20, let chunk = client.readChunk() { got += chunk.count }
            XCTAssertGreaterThanOrEqual(got, 1 << 20)
        }  // closed with unread bytes: a reset
        XCTAssertTrue(pollUntil(timeout: 10) { (try? String(contentsOfFile: log, encoding: .utf8))?.contains("GET /huge.bin") == true },
                      "logged once the send ended")
        let counted = stats.all.bytesOut - before
        XCTAssertGreaterThan(counted, 0)
        XCTAssertLessThan(counted, size / 2, "counted \(counted) of \(size)")
        let line = try XCTUnwrap(String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").first { $0.contains("GET /huge.bin") })
        let fields = line.split(separator: " ")
        let logged = try XCTUnwrap(fields.firstIndex(of: "200").flatMap { Int(fields[$0 + 1]) }, String(line))
        XCTAssertLessThan(logged, size / 2, String(line))
        XCTAssertEqual(logged % (1 << 20), 0, "whole regions: \(logged)")
    }
}
