import XCTest

@testable import ServerCore

/// The head-line helpers both parsers share, against plain byte-by-byte definitions.
final class HTTPSyntaxTests: XCTestCase {
    /// The word-at-a-time scan agrees with a byte loop: every length up to 40, up to two of LF,
    /// CR and NUL at random positions (and none), surrounded by every kind of byte, at unaligned
    /// starts and from every start position.
    func testStopByteMatchesAByteLoop() {
        var rng = SystemRandomNumberGenerator()
        let fillers: [UInt8] = [0x01, 0x09, 0x0B, 0x0C, 0x0E, 0x20, 0x41, 0x7F, 0x80, 0x8A, 0x8D, 0xFF, 0xF2]
        let stops: [UInt8] = [0x0A, 0x0D, 0x00]
        for length in 0...40 {
            for offset in 0..<3 {
                for round in 0..<30 {
                    var bytes = [UInt8](repeating: 0, count: length + offset)
                    for k in bytes.indices { bytes[k] = fillers.randomElement(using: &rng)! }
                    if round > 0 && length > 0 {
                        for _ in 0..<(1 + round % 2) {
                            bytes[offset + Int.random(in: 0..<length, using: &rng)] = stops[round % 3]
                        }
                    }
                    let from = length == 0 ? offset : offset + Int.random(in: 0..<length, using: &rng)
                    let expected = bytes[from...].firstIndex { $0 == 0x0A || $0 == 0x0D || $0 == 0 }
                    let got = bytes.withUnsafeBytes { HTTPSyntax.stopByte($0.baseAddress!, from: from, bytes.count) }
                    XCTAssertEqual(got, expected, "length \(length) offset \(offset) from \(from) bytes \(bytes)")
                }
            }
        }
    }

    /// Bytes next to LF, CR and NUL in value (0x0B, 0x0C, 0x0E, 0x01, 0x8A, 0x8D) are not mistaken
    /// for them.
    func testNeighboursOfStopBytesPass() {
        for b: UInt8 in [0x01, 0x09, 0x0B, 0x0C, 0x0E, 0x8A, 0x8D, 0x80, 0xFF] {
            for length in [1, 7, 8, 9, 16, 23] {
                let bytes = [UInt8](repeating: b, count: length)
                XCTAssertNil(bytes.withUnsafeBytes { HTTPSyntax.stopByte($0.baseAddress!, from: 0, length) }, "\(b) x \(length)")
            }
        }
    }

    func lines(_ text: String) -> (ok: Bool, lines: [String]) {
        var out: [String] = []
        let ok = Array(text.utf8).withUnsafeBytes { head in
            HTTPSyntax.forEachLine(head, from: 0) { line in
                out.append("\(String(decoding: line.name, as: UTF8.self))=\(String(decoding: line.value, as: UTF8.self))")
            }
        }
        return (ok, out)
    }

    func testLinesSplitIntoNameAndTrimmedValue() {
        let r = lines("A: 1\r\nB-c:\t two words \t\r\nD:\r\nE:x\n\r\n")
        XCTAssertTrue(r.ok)
        XCTAssertEqual(r.lines, ["A=1", "B-c=two words", "D=", "E=x"])
    }

    func testMalformedLinesStop() {
        for bad in [
            "A 1\r\n\r\n", "A :1\r\n\r\n", ":1\r\n\r\n", " A: 1\r\n\r\n", "A(b): 1\r\n\r\n", "A: 1\rx\r\n\r\n",
            "A: 1\0\r\n\r\n", "A: 12345678\r9\r\n\r\n", "A\r\n\r\n", "A: 1\r\r\n\r\n", "A: 1", "A: 1\r",
            "\r", "\rA: 1\r\n\r\n", "A: 123456789012\0\r\n\r\n",
        ] {
            XCTAssertFalse(lines(bad).ok, bad.debugDescription)
        }
    }

    func walk(_ text: String) -> HTTPSyntax.LineWalk {
        Array(text.utf8).withUnsafeBytes { HTTPSyntax.walkLines($0, from: 0) { _ in } }
    }

    /// The walk tells a head's end (with what follows it), a head cut short (between lines or
    /// inside one) and a malformed line apart.
    func testWalkTellsEndFromCutShortFromMalformed() {
        XCTAssertEqual(walk("A: 1\r\nB: 2\r\n\r\nbody"), .end(14))
        XCTAssertEqual(walk("A: 1\nB: 2\n\nbody\r\n\r\n"), .end(11))
        XCTAssertEqual(walk("\r\n"), .end(2))
        XCTAssertEqual(walk(""), .ranOut(atLineStart: true))
        XCTAssertEqual(walk("A: 1\r\n"), .ranOut(atLineStart: true))
        for cut in ["A", "A: 1", "A: 12345678901234", "A: 1\r", "A: 1\r\n\r", "A:", "A: 1\r\nB"] {
            XCTAssertEqual(walk(cut), .ranOut(atLineStart: false), cut.debugDescription)
        }
        for bad in ["A 1\r\n", "A: 1\rx", "A: 1\0", "\rA", " A: 1\r\n", "A: 1\r\r\n"] {
            XCTAssertEqual(walk(bad), .malformed, bad.debugDescription)
        }
        // Every prefix of a head is cut short, and the whole of it ends where the blank line does.
        let head = "Server: x\r\nContent-Length: 5\r\nX-A:\tb c \r\n\r\n"
        let bytes = Array(head.utf8)
        for n in 0..<bytes.count {
            let w = bytes[..<n].withUnsafeBytes { HTTPSyntax.walkLines($0, from: 0) { _ in } }
            guard case .ranOut = w else { return XCTFail("prefix \(n): \(w)") }
        }
        XCTAssertEqual(walk(head + "HTTP/1.1 200 OK\r\n"), .end(bytes.count))
    }
}
