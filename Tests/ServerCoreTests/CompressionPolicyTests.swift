import XCTest

@testable import ServerCore
import CompressNIO
import NIOCore

final class CompressionPolicyTests: XCTestCase {
    func testNegotiationTable() {
        let table: [(String?, Bool)] = [
            (nil, false), ("", false), ("gzip", true), ("gzip, deflate", true), ("deflate", false), ("GZIP", true),
            ("x-gzip", true), ("gzip;q=0", false), ("gzip; q=0.0", false), ("gzip;q=0.5", true), ("*", true),
            ("*;q=0", false), ("gzip;q=0, *", false), ("identity", false), ("identity, *;q=1", true),
            ("br;q=1, gzip;q=0.1", true), ("deflate, gzip;q=0", false),
        ]
        for (header, want) in table {
            XCTAssertEqual(AcceptEncoding.acceptsGzip(header), want, header ?? "nil")
        }
    }

    func testPolicy() {
        let p = CompressionPolicy(enabled: true, extraTypes: ["application/pdf"], minLength: 256)
        XCTAssertTrue(p.shouldCompress(contentType: "text/plain", size: 1242, acceptEncoding: "gzip", isRange: false, cacheControl: nil))
        XCTAssertTrue(p.shouldCompress(contentType: "application/pdf", size: 3028, acceptEncoding: "gzip", isRange: false, cacheControl: nil))
        XCTAssertFalse(p.shouldCompress(contentType: "image/jpeg", size: 156145, acceptEncoding: "gzip", isRange: false, cacheControl: nil))
        XCTAssertFalse(p.shouldCompress(contentType: "text/plain", size: 100, acceptEncoding: "gzip", isRange: false, cacheControl: nil), "tiny")
        XCTAssertFalse(p.shouldCompress(contentType: "text/plain", size: 1242, acceptEncoding: "gzip", isRange: true, cacheControl: nil))
        XCTAssertFalse(p.shouldCompress(contentType: "text/plain", size: 1242, acceptEncoding: "gzip", isRange: false, cacheControl: "no-transform"))
        XCTAssertFalse(p.shouldCompress(contentType: "text/plain", size: 1242, acceptEncoding: nil, isRange: false, cacheControl: nil))
        XCTAssertTrue(p.varies(contentType: "text/plain", size: 1242))
        let off = CompressionPolicy(enabled: false)
        XCTAssertFalse(off.varies(contentType: "text/plain", size: 1242))
        XCTAssertFalse(off.shouldCompress(contentType: "text/plain", size: 1242, acceptEncoding: "gzip", isRange: false, cacheControl: nil))
    }

    func testGzipRoundTripsAtEveryLevel() throws {
        let text = ByteBuffer(string: String(repeating: "Hello everybody out there using minix - ", count: 50))
        for level in -1...9 {
            var gz = try Gzip.compress(text, level: level)
            XCTAssertEqual(gz.getBytes(at: gz.readerIndex, length: 3), [0x1f, 0x8b, 0x08], "level \(level)")
            var out = try gz.decompress(with: .gzip)
            XCTAssertEqual(out.readString(length: out.readableBytes), String(buffer: text), "level \(level)")
        }
    }

    func testStreamingMatchesInput() throws {
        let stream = try GzipStream(level: 6)
        var all = ByteBuffer()
        var input = ""
        for i in 0..<200 {
            let piece = String(repeating: "line \(i) of the streamed file\n", count: 100)
            input += piece
            var out = try stream.feed(ByteBuffer(string: piece))
            all.writeBuffer(&out)
        }
        var tail = try stream.finish()
        all.writeBuffer(&tail)
        var plain = try all.decompress(with: .gzip)
        XCTAssertEqual(plain.readString(length: plain.readableBytes), input)
    }
}
