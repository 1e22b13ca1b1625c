import CompressNIO
import Foundation
import NIOCore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

@testable import ServerCore

/// `gzip_proxied` (opt-in): upstream responses that are not encoded get gzipped on the way;
/// encoded ones, incompressible types and clients that do not accept gzip pass unchanged.
final class GzipProxiedTests: ServerTestCase {
    func testProxiedTextIsCompressedOnlyWhenItShouldBe() throws {
        // The upstream: expserverd itself, serving the fixture without compression.
        let upstream = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] } ] }
            """)
        let proxy = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "reverse_proxy", "upstreams": ["127.0.0.1:\(upstream.port)"],
                            "gzip_proxied": true, "gzip_level": 6 } ] } ] }
            """)
        let gz = try exchange(proxy, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(gz.status, 200)
        XCTAssertEqual(gz.header("Content-Encoding"), "gzip")
        XCTAssertEqual(gz.header("Content-Type"), "text/plain")
        XCTAssertNil(gz.header("Content-Length"))
        XCTAssertEqual(gz.header("Transfer-Encoding"), "chunked")
        var body = ByteBuffer(bytes: dechunk(gz.body))
        var plain = try body.decompress(with: .gzip)
        XCTAssertEqual(plain.readBytes(length: plain.readableBytes), upstream.fixture.bytes("public/sample.txt"))
        // Not accepted, or not compressible: relayed as is.
        let identity = try exchange(proxy, getRequest("/sample.txt")).response
        XCTAssertNil(identity.header("Content-Encoding"))
        XCTAssertEqual(identity.body, upstream.fixture.bytes("public/sample.txt"))
        let jpeg = try exchange(proxy, getRequest("/cat.jpg", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertNil(jpeg.header("Content-Encoding"))
        XCTAssertEqual(jpeg.body, upstream.fixture.bytes("public/cat.jpg"))
    }

    /// A client that does not read holds the upstream's reads while its response is gzipped as
    /// well: the proxy does not read (and compress, and buffer) the upstream's whole body.
    func testASlowClientHoldsTheUpstreamWhileItsResponseIsGzipped() throws {
        let fixture = try makeFixture()
        let random = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: 96 << 20)  // gzip cannot shrink it
        try fixture.write(random, to: "public/big.txt")
        let upstream = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public" } ] } ] }
            """, fixture: fixture)
        let proxy = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "reverse_proxy", "upstreams": ["127.0.0.1:\(upstream.port)"],
                            "gzip_proxied": true, "gzip_level": 1 } ] } ] }
            """)
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
