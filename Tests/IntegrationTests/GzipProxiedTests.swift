import CompressNIO
import Foundation
import NIOCore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

@testable import ServerCore
import TestSupport

/// `gzip_proxied` (opt-in): upstream responses that are not encoded get gzipped on the way;
/// encoded ones, incompressible types and clients that do not accept gzip pass unchanged.
final class GzipProxiedTests: ServerTestCase {
    /// An upstream (expserverd itself, serving `fixture` without compression) and a proxy in front
    /// of it with `gzip_proxied` at `level`.
    func gzippingProxy(level: Int, fixture: Fixture? = nil) throws -> (upstream: TestServer, proxy: TestServer) {
        let upstream = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] } ] }
            """, fixture: fixture)
        let proxy = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "reverse_proxy", "upstreams": ["127.0.0.1:\(upstream.port)"],
                            "gzip_proxied": true, "gzip_level": \(level) } ] } ] }
            """)
        return (upstream, proxy)
    }

    func testProxiedTextIsCompressedOnlyWhenItShouldBe() throws {
        let (upstream, proxy) = try gzippingProxy(level: 6)
        let gz = try exchange(proxy, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(gz.status, 200)
        XCTAssertEqual(gz.header("Content-Encoding"), "gzip")
        XCTAssertEqual(gz.header("Content-Type"), "text/plain")
        XCTAssertNil(gz.header("Content-Length"))
        XCTAssertEqual(gz.header("Transfer-Encoding"), "chunked")
        XCTAssertNil(gz.header("Accept-Ranges"), "no ranges of the gzipped bytes")
        var body = ByteBuffer(bytes: dechunk(gz.body))
        var plain = try body.decompress(with: .gzip)
        XCTAssertEqual(plain.readBytes(length: plain.readableBytes), upstream.fixture.bytes("public/sample.txt"))
        // Not accepted, or not compressible: relayed as is.
        let identity = try exchange(proxy, getRequest("/sample.txt")).response
        XCTAssertNil(identity.header("Content-Encoding"))
        XCTAssertEqual(identity.body, upstream.fixture.bytes("public/sample.txt"))
        let etag = try XCTUnwrap(identity.header("ETag"))
        XCTAssertFalse(etag.hasPrefix("W/"))
        XCTAssertEqual(gz.header("ETag"), "W/" + etag, "the gzipped body's validator is weak")
        // Both variants say they vary (a cache must not give one client's variant to another).
        XCTAssertEqual(gz.headers("Vary"), ["Accept-Encoding"])
        XCTAssertEqual(identity.headers("Vary"), ["Accept-Encoding"])
        // A client asking intermediaries not to transform gets the upstream's bytes.
        let untouched = try exchange(proxy, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip", "Cache-Control: no-transform"])).response
        XCTAssertNil(untouched.header("Content-Encoding"))
        XCTAssertEqual(untouched.body, upstream.fixture.bytes("public/sample.txt"))
        let jpeg = try exchange(proxy, getRequest("/cat.jpg", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertNil(jpeg.header("Content-Encoding"))
        XCTAssertEqual(jpeg.body, upstream.fixture.bytes("public/cat.jpg"))
        XCTAssertNil(jpeg.header("Vary"), "an incompressible type does not vary")
    }

    /// The answer to a gzip-accepting GET through a `gzip_proxied` route, from an upstream that
    /// answers compressible text with `headers` (lines ending in CRLF) among its own; the text.
    func gzipAccepted(fromUpstreamWith headers: String) throws -> (HTTPResult, String) {
        let text = String(repeating: "compressible text ", count: 200)
        let upstream = try FakeUpstream(id: "raw", behavior: .init(rawAnswer:
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\(headers)Content-Length: \(text.utf8.count)\r\n\r\n" + text))
        defer { upstream.stop() }
        let proxy = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "reverse_proxy", "upstreams": ["\(upstream.address)"], "gzip_proxied": true } ] } ] }
            """)
        return (try exchange(proxy, getRequest("/t.txt", headers: ["Accept-Encoding: gzip", "Connection: close"])).response, text)
    }

    /// An upstream that already varies on Accept-Encoding (on any line, any case) gets no second one.
    func testAnUpstreamVaryIsNotRepeated() throws {
        let (r, _) = try gzipAccepted(fromUpstreamWith: "Vary: Origin\r\nvary: accept-encoding\r\n")
        XCTAssertEqual(r.header("Content-Encoding"), "gzip")
        XCTAssertEqual(r.headers("Vary"), ["Origin", "accept-encoding"])
    }

    /// The client's `Accept-Encoding` and `Cache-Control` count on every line they are given on.
    func testRequestListFieldsOnSeveralLines() throws {
        let (_, proxy) = try gzippingProxy(level: 6)
        let gz = try exchange(proxy, getRequest("/sample.txt", headers: ["Accept-Encoding: br", "Accept-Encoding: gzip"])).response
        XCTAssertEqual(gz.header("Content-Encoding"), "gzip")
        let headers = ["Accept-Encoding: gzip", "Cache-Control: max-age=0", "Cache-Control: no-transform"]
        XCTAssertNil(try exchange(proxy, getRequest("/sample.txt", headers: headers)).response.header("Content-Encoding"))
    }

    /// `Cache-Control: no-transform` counts on any of the upstream's Cache-Control lines.
    func testNoTransformOnALaterCacheControlLineIsHonoured() throws {
        let (r, text) = try gzipAccepted(fromUpstreamWith: "Cache-Control: public\r\nCache-Control: no-transform\r\n")
        XCTAssertEqual(r.status, 200)
        XCTAssertNil(r.header("Content-Encoding"))
        XCTAssertNil(r.header("Vary"), "never compressed for anyone: nothing varies")
        XCTAssertEqual(String(decoding: r.body, as: UTF8.self), text)
    }

    /// A client that does not read holds the upstream's reads while its response is gzipped as
    /// well: the proxy does not read (and compress, and buffer) the upstream's whole body.
    func testASlowClientHoldsTheUpstreamWhileItsResponseIsGzipped() throws {
        let fixture = try makeFixture()
        let random = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: 96 << 20)  // gzip cannot shrink it
        try fixture.write(random, to: "public/big.txt")
        let (_, proxy) = try gzippingProxy(level: 1, fixture: fixture)
        let before = residentBytes()
        let client = try RawClient(port: proxy.port, timeout: 5)
        var size: Int32 = 4096
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        try client.send(getRequest("/big.txt", headers: ["Accept-Encoding: gzip"]))
        Thread.sleep(forTimeInterval: 2)  // long enough to read and gzip most of 96 MiB if nothing holds it
        let grown = residentBytes() - before
        XCTAssertLessThan(grown, 32 << 20, "grew by \(grown >> 20) MiB while the client read nothing")
        let first = try XCTUnwrap(client.readChunk())
        XCTAssertTrue(String(decoding: first.prefix(15), as: UTF8.self).hasPrefix("HTTP/1.1 200"), "then the answer comes as the client reads")
    }

    /// This process's resident memory (`VmRSS`).
    func residentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while let lineEnd = HTTPResult.find(Array(bytes[i...]), [13, 10]).map({ $0 + i }) {
            let size = Int(String(decoding: bytes[i..<lineEnd], as: UTF8.self), radix: 16) ?? 0
            if size == 0 { break }
            out += bytes[(lineEnd + 2)..<(lineEnd + 2 + size)]
            i = lineEnd + 2 + size + 2
        }
        return out
    }
}
