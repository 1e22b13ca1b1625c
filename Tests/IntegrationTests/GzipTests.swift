import CompressNIO
import Foundation
import NIOCore
import XCTest

@testable import ServerCore

/// Compat 4.2 cases G1-G7 and the HTTP semantics around them.
final class GzipTests: ServerTestCase {
    func config(_ extra: String = #""gzip_enable": true, "gzip_level": 8"#) -> String {
        """
        { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
          "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "../public", "index": ["index.html"], \(extra) } ] } ] }
        """
    }

    func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBuffer(bytes: bytes)
        var out = try buffer.decompress(with: .gzip)
        return out.readBytes(length: out.readableBytes) ?? []
    }

    /// Decodes a chunked body.
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

    func testG1CompressedTextAndG2Identity() throws {
        let s = try startServer(config())
        let gz = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(gz.status, 200)
        XCTAssertEqual(gz.header("Content-Encoding"), "gzip")
        XCTAssertEqual(gz.header("Content-Type"), "text/plain")
        XCTAssertEqual(Array(gz.body.prefix(3)), [0x1f, 0x8b, 0x08])
        XCTAssertEqual(try gunzip(gz.body), s.fixture.bytes("public/sample.txt"))
        XCTAssertEqual(gz.header("Vary"), "Accept-Encoding")
        XCTAssertEqual(gz.header("Content-Length"), String(gz.body.count))
        let plain = try exchange(s, getRequest("/sample.txt")).response
        XCTAssertNil(plain.header("Content-Encoding"))
        XCTAssertEqual(plain.header("Content-Length"), "1242")
        XCTAssertEqual(plain.header("Vary"), "Accept-Encoding")
        XCTAssertEqual(plain.body, s.fixture.bytes("public/sample.txt"))
    }

    func testG3DisabledAndG4Jpeg() throws {
        let off = try startServer(config(#""gzip_enable": false"#))
        XCTAssertNil(try exchange(off, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip"])).response.header("Content-Encoding"))
        let on = try startServer(config())
        let jpg = try exchange(on, getRequest("/cat.jpg", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertNil(jpg.header("Content-Encoding"))
        XCTAssertEqual(jpg.body, on.fixture.bytes("public/cat.jpg"))
    }

    func testG5ExtraTypeAndG6ListingNotCompressed() throws {
        let s = try startServer(config(#""gzip_enable": true, "gzip_mime_types": ["application/pdf"]"#))
        let pdf = try exchange(s, getRequest("/sample.pdf", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(pdf.header("Content-Encoding"), "gzip")
        XCTAssertEqual(pdf.header("Content-Type"), "application/pdf")
        XCTAssertEqual(try gunzip(pdf.body), s.fixture.bytes("public/sample.pdf"))
        let listing = try exchange(s, getRequest("/", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(listing.header("Content-Type"), "text/html")
        XCTAssertNil(listing.header("Content-Encoding"))
    }

    func testG7EveryLevelIsValidGzip() throws {
        for level in [-1, 0, 1, 9] {
            let s = try startServer(config(#""gzip_enable": true, "gzip_level": \#(level)"#))
            let r = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip, deflate"])).response
            XCTAssertEqual(r.header("Content-Encoding"), "gzip", "level \(level)")
            XCTAssertEqual(try gunzip(r.body), s.fixture.bytes("public/sample.txt"), "level \(level)")
        }
    }

    func testQZeroAndStar() throws {
        let s = try startServer(config())
        XCTAssertNil(try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip;q=0, *"])).response.header("Content-Encoding"))
        XCTAssertEqual(try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: *"])).response.header("Content-Encoding"), "gzip")
        XCTAssertNil(try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip", "Cache-Control: no-transform"])).response.header("Content-Encoding"))
    }

    /// List-valued request fields count on every line they are given on (RFC 9110 §5.3).
    func testListFieldsOnSeveralLines() throws {
        let s = try startServer(config())
        let second = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: br", "Accept-Encoding: gzip"])).response
        XCTAssertEqual(second.header("Content-Encoding"), "gzip", "gzip on the second line")
        XCTAssertEqual(try gunzip(second.body), s.fixture.bytes("public/sample.txt"))
        let noTransform = ["Accept-Encoding: gzip", "Cache-Control: max-age=0", "Cache-Control: no-transform"]
        XCTAssertNil(try exchange(s, getRequest("/sample.txt", headers: noTransform)).response.header("Content-Encoding"))
        let etag = try XCTUnwrap(second.header("ETag"))
        let match = ["Accept-Encoding: gzip", "If-None-Match: \"other\"", "If-None-Match: \(etag)"]
        XCTAssertEqual(try exchange(s, getRequest("/sample.txt", headers: match)).response.status, 304)
    }

    func testWeakETagAndConditional() throws {
        let s = try startServer(config())
        let plain = try exchange(s, getRequest("/sample.txt")).response
        let gz = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip"])).response
        let strong = try XCTUnwrap(plain.header("ETag"))
        XCTAssertEqual(gz.header("ETag"), "W/" + strong)
        let again = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip", "If-None-Match: W/\(strong)"])).response
        XCTAssertEqual(again.status, 304)
        XCTAssertEqual(again.header("ETag"), "W/" + strong)
        XCTAssertEqual(again.header("Vary"), "Accept-Encoding")
        XCTAssertTrue(again.body.isEmpty)
    }

    func testHeadCarriesTheGetHeaders() throws {
        let s = try startServer(config())
        let get = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip"])).response
        let client = try RawClient(port: s.port)
        try client.send("HEAD /sample.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        let head = try client.readResponse(headRequest: true)
        XCTAssertEqual(head.header("Content-Encoding"), "gzip")
        XCTAssertEqual(head.header("Content-Length"), get.header("Content-Length"))
        XCTAssertTrue(head.body.isEmpty)
    }

    func testRangeIsServedFromIdentity() throws {
        let s = try startServer(config())
        let r = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip", "Range: bytes=0-9"])).response
        XCTAssertEqual(r.status, 206)
        XCTAssertNil(r.header("Content-Encoding"))
        XCTAssertEqual(r.body, Array(s.fixture.bytes("public/sample.txt")[0..<10]))
        XCTAssertEqual(r.header("Vary"), "Accept-Encoding", "every variant of a compressible file says it varies")
        let refused = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip", "Range: bytes=99999-"])).response
        XCTAssertEqual(refused.status, 416)
        XCTAssertEqual(refused.header("Vary"), "Accept-Encoding")
    }

    /// Concurrent first requests for one file share one compression (a burst after a deploy
    /// costs zlib once, not once per request on the thread pool); every answer is the file.
    func testConcurrentMissesShareOneCompression() throws {
        let s = try startServer(config(#""gzip_enable": true, "gzip_level": 9"#))
        var text = ""
        var i = 0
        while text.utf8.count < 1_000_000 {
            text += "line \(i) of a text compressed once, \(i * 7919 % 10007)\n"
            i += 1
        }
        let bytes = Array(text.utf8.prefix(1_000_000))
        try Data(bytes).write(to: s.fixture.publicDir.appendingPathComponent("big.txt"))
        // Sixteen requests sent together on their own connections, then their answers read.
        let clients = try (0..<16).map { _ in try RawClient(port: s.port, timeout: 30) }
        for client in clients { try client.send(getRequest("/big.txt", headers: ["Accept-Encoding: gzip"])) }
        for client in clients {
            let all = client.readAll()
            let r = try XCTUnwrap(HTTPResult.parse(all.bytes, complete: true))
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.header("Content-Encoding"), "gzip")
            XCTAssertEqual(r.header("Content-Length"), String(r.body.count))
            XCTAssertTrue(try gunzip(r.body) == bytes, "the file, whole")
        }
        XCTAssertEqual(s.server.state.dispatcher.compression.cache.compressions, 1, "one compression for the burst")
    }

    func testCacheInvalidatesWhenTheFileChanges() throws {
        let s = try startServer(config())
        _ = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip"]))
        let newText = String(repeating: "changed content for the cache test\n", count: 40)
        let path = s.fixture.publicDir.appendingPathComponent("sample.txt").path
        try newText.write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(10)], ofItemAtPath: path)
        let r = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(try gunzip(r.body), Array(newText.utf8))
    }

    func testPrecompressedFileIsUsed() throws {
        let fixture = try makeFixture()
        let marker = Array("served from the .gz file".utf8)
        var gz = try Gzip.compress(ByteBuffer(bytes: marker), level: 9)
        try fixture.write(Data(gz.readBytes(length: gz.readableBytes)!), to: "public/sample.txt.gz")
        let path = fixture.publicDir.appendingPathComponent("sample.txt.gz").path
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(10)], ofItemAtPath: path)
        let s = try startServer(config(), fixture: fixture)
        let r = try exchange(s, getRequest("/sample.txt", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(try gunzip(r.body), marker)
        XCTAssertEqual(r.header("Content-Type"), "text/plain")
    }

    func testPrecompressedSymlinkLeavingTheRootIsNotUsed() throws {
        // public/p.txt.gz -> ../outside/secret.txt.gz: the plain file is served as if there were no .gz.
        let fixture = try makeFixture()
        let text = String(repeating: "plain text inside the root\n", count: 40)
        try fixture.write(Data(text.utf8), to: "public/p.txt")
        var secret = try Gzip.compress(ByteBuffer(string: "TOP SECRET: outside the public root"), level: 9)
        let secretBytes = secret.readBytes(length: secret.readableBytes)!
        try fixture.write(Data(secretBytes), to: "outside/secret.txt.gz")
        let target = fixture.root.appendingPathComponent("outside/secret.txt.gz").path
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(10)], ofItemAtPath: target)
        try FileManager.default.createSymbolicLink(
            atPath: fixture.publicDir.path + "/p.txt.gz", withDestinationPath: "../outside/secret.txt.gz")
        let s = try startServer(config(), fixture: fixture)
        let r = try exchange(s, getRequest("/p.txt", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(r.status, 200)
        XCTAssertFalse(r.body == secretBytes, "served the .gz outside the root")
        XCTAssertEqual(String(decoding: try gunzip(r.body), as: UTF8.self), text)
        XCTAssertEqual(try exchange(s, getRequest("/p.txt.gz")).response.status, 403)
    }

    /// The cached gzip variant of a file rewritten in place with its size and mtime put back is
    /// not served: the file's ctime changed.
    func testAnInPlaceRewriteKeepingSizeAndMtimeIsNotServedStaleGzipped() throws {
        let fixture = try makeFixture()
        let url = fixture.root.appendingPathComponent("public/page.txt")
        let mtime = Date(timeIntervalSince1970: 1_500_000_000)
        try fixture.write(Data(repeating: UInt8(ascii: "A"), count: 600 << 10), to: "public/page.txt")
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: url.path)
        let s = try startServer(config(), fixture: fixture)
        let first = try exchange(s, getRequest("/page.txt", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(first.header("Content-Encoding"), "gzip")
        XCTAssertEqual(try gunzip(first.body).first, UInt8(ascii: "A"))
        usleep(20_000)
        let handle = try FileHandle(forWritingTo: url)
        try handle.write(contentsOf: Data(repeating: UInt8(ascii: "B"), count: 600 << 10))
        try handle.close()
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: url.path)
        let again = try exchange(s, getRequest("/page.txt", headers: ["Accept-Encoding: gzip"])).response
        XCTAssertEqual(try gunzip(again.body).first, UInt8(ascii: "B"))
    }

    func testLargeFileStreamsChunkedAndDecompressesToTheOriginal() throws {
        let fixture = try makeFixture()
        var text = ""
        for i in 0..<60_000 { text += "line \(i): the quick brown fox jumps over the lazy dog\n" }
        try fixture.write(Data(text.utf8), to: "public/big.txt")
        let s = try startServer(config(), fixture: fixture)
        let client = try RawClient(port: s.port, timeout: 20)
        try client.send(getRequest("/big.txt", headers: ["Accept-Encoding: gzip"]))
        let all = client.readAll()
        let head = try XCTUnwrap(HTTPResult.parse(all.bytes, complete: true))
        XCTAssertEqual(head.header("Transfer-Encoding"), "chunked")
        XCTAssertEqual(head.header("Content-Encoding"), "gzip")
        XCTAssertNil(head.header("Content-Length"))
        XCTAssertEqual(try gunzip(dechunk(head.body)), Array(text.utf8))
        // HTTP/1.0: close-delimited instead of chunked.
        let old = try exchange(s, "GET /big.txt HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        XCTAssertTrue(old.closed)
        XCTAssertNil(old.response.header("Transfer-Encoding"))
        XCTAssertEqual(try gunzip(old.response.body), Array(text.utf8))
    }

    /// A streamed gzip body whose file is cut short while it is sent ends cut (connection closed,
    /// no last chunk), never as a clean answer holding part of the file under its validators.
    func testAStreamedFileCutShortEndsTheConnection() throws {
        let fixture = try makeFixture()
        let size = 32 << 20  // (random bytes: the gzip stream is as large, more than the socket buffers hold)
        let noise = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: size)
        try fixture.write(noise, to: "public/noise.txt")
        let path = fixture.publicDir.appendingPathComponent("noise.txt").path
        let s = try startServer(config(), fixture: fixture)
        let client = try RawClient(port: s.port, timeout: 10)
        var buffer: Int32 = 65536
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        try client.send(getRequest("/noise.txt", headers: ["Accept-Encoding: gzip"]))
        let first = try XCTUnwrap(client.readChunk(max: 4096), "the answer started")
        XCTAssertTrue(String(decoding: first, as: UTF8.self).contains("Transfer-Encoding: chunked"))
        usleep(500_000)  // (the socket buffers full, the stream waiting)
        XCTAssertEqual(truncate(path, 100_000), 0)
        let rest = client.readAll()
        XCTAssertTrue(rest.closed, "the connection is closed")
        let all = first + rest.bytes
        XCTAssertFalse(all.suffix(5) == Array("0\r\n\r\n".utf8), "no last chunk: the body is not complete")
        XCTAssertLessThan(all.count, size)
    }

    func testHeadOfAStreamedFileIsFramedAsItsGet() throws {
        let fixture = try makeFixture()
        try fixture.write(Data(String(repeating: "the quick brown fox jumps over the lazy dog\n", count: 30_000).utf8), to: "public/big.txt")
        let s = try startServer(config(), fixture: fixture)
        let head11 = try exchange(s, "HEAD /big.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n").response
        XCTAssertEqual(head11.header("Content-Encoding"), "gzip")
        XCTAssertEqual(head11.header("Transfer-Encoding"), "chunked")
        XCTAssertNil(head11.header("Content-Length"))
        // HTTP/1.0: no Transfer-Encoding (RFC 9112 §6.1); the GET would end with the close.
        let head10 = try exchange(s, "HEAD /big.txt HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(head10.response.header("Content-Encoding"), "gzip")
        XCTAssertNil(head10.response.header("Transfer-Encoding"))
        XCTAssertNil(head10.response.header("Content-Length"))
        XCTAssertTrue(head10.closed)
        XCTAssertTrue(head10.response.body.isEmpty)
    }
}
