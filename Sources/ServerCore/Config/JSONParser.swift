import Foundation

/// Reads config JSON into a `JSONValue` in one linear pass over its bytes, tracking the key path,
/// so that what Foundation's decoder lets through silently is refused by name: a key given twice
/// in one object (`JSONDecoder` keeps one and drops the other, so an appended override such as a
/// second `gzip_enable` would be ignored), a number too large for a Double and bytes that are
/// not UTF-8 (JSONDecoder's refusals of these name neither the cause nor the place).
///
/// A syntax error is a `SyntaxError` saying what was expected, at which line and column (the
/// column in characters, from 1). The grammar is RFC 8259's: no trailing commas, no comments.
struct JSONParser {
    struct SyntaxError: Error, CustomStringConvertible, Equatable {
        var line: Int
        var column: Int
        var message: String
        var description: String { "line \(line), column \(column): \(message)" }
    }

    private enum Component {
        case key(String)
        case index(Int)
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0
    private var path: [Component] = []
    /// As deep as `JSONDecoder` goes; deeper input is left to it (and its message).
    private static let maxDepth = 512

    static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { raw in
            var parser = JSONParser(bytes: raw.bindMemory(to: UInt8.self))
            // A UTF-8 byte order mark, as JSONDecoder skips it.
            if parser.bytes.count >= 3, parser.bytes[0] == 0xEF, parser.bytes[1] == 0xBB, parser.bytes[2] == 0xBF { parser.i = 3 }
            let value = try parser.value(depth: 0)
            parser.skipSpace()
            guard parser.i == parser.bytes.count else { throw parser.syntaxError("more after the end of the top-level value") }
            return value
        }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// `message` at the current position (the line and column worked out only now).
    private func syntaxError(_ message: String) -> SyntaxError {
        var line = 1, column = 1
        let end = min(i, bytes.count)
        let bom = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF  // (no column of its own)
        for k in (bom ? min(3, end) : 0)..<end {
            let b = bytes[k]
            // A line ends at LF, CR LF, or a CR alone (old Mac files).
            if b == 0x0A || (b == 0x0D && (k + 1 >= bytes.count || bytes[k + 1] != 0x0A)) {
                line += 1
                column = 1
            } else if b != 0x0D && b & 0xC0 != 0x80 {  // (UTF-8 continuation bytes are part of the character before)
                column += 1
            }
        }
        return SyntaxError(line: line, column: column, message: message)
    }

    /// The last byte before the current position, spaces aside, is a comma (and one is here).
    private var afterComma: Bool {
        guard i < bytes.count else { return false }
        var k = i - 1
        while k >= 0, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[k]) { k -= 1 }
        return k >= 0 && bytes[k] == UInt8(ascii: ",")
    }

    /// `True`, `NULL`, `False`... is here: a literal in the wrong case.
    private var miscasedLiteral: Bool {
        ["true", "false", "null"].contains { word in
            i + word.utf8.count <= bytes.count && zip(word.utf8, bytes[i...]).allSatisfy { $0 == $1 | 0x20 }
        }
    }

    /// What is at the current position, for a message: `'x'`, or the end of the file.
    private var found: String {
        guard i < bytes.count else { return "the end of the file" }
        let b = bytes[i]
        return b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16, uppercase: true))"
    }

    /// The current key path as the config errors write it: `servers[0].routes[1].gzip_enable`.
    private var renderedPath: String {
        var out = ""
        for component in path {
            switch component {
            case .key(let k): out += out.isEmpty ? k : "." + k
            case .index(let n): out += "[\(n)]"
            }
        }
        return out.isEmpty ? "(top level)" : out
    }

    private mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func value(depth: Int) throws -> JSONValue {
        skipSpace()
        guard depth < Self.maxDepth else { throw syntaxError("nested more than \(Self.maxDepth) deep") }
        guard i < bytes.count else { throw syntaxError("expected a value, found the end of the file") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case UInt8(ascii: "]"), UInt8(ascii: "}"): throw syntaxError("expected a value, found \(found)\(afterComma ? " (a trailing comma?)" : "")")
        default:
            let hint = bytes[i] == UInt8(ascii: "'") ? " (strings take double quotes)" : miscasedLiteral ? " (true, false and null are lowercase words)" : ""
            throw syntaxError("expected a value, found \(found)\(hint)")
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        for k in 0..<n where i + k >= bytes.count || bytes[i + k] != word.utf8Start[k] {
            throw syntaxError("expected a value, found \(found)\(miscasedLiteral ? " (true, false and null are lowercase words)" : "")")
        }
        i += n
    }

    private mutating func object(depth: Int) throws -> JSONValue {
        i += 1
        var fields: [String: JSONValue] = [:]
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return .object(fields)
        }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                throw syntaxError("expected a key in double quotes, found \(found)\(afterComma && bytes[i] == UInt8(ascii: "}") ? " (a trailing comma?)" : "")")
            }
            let key = try string(isKey: true)
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw syntaxError("expected ':' after the key \"\(key)\", found \(found)") }
            i += 1
            path.append(.key(key))
            let v = try value(depth: depth + 1)
            if fields.updateValue(v, forKey: key) != nil { throw ConfigError(renderedPath, "duplicate key") }
            path.removeLast()
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: ",") {
                i += 1
            } else if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                i += 1
                return .object(fields)
            } else {
                throw syntaxError("expected ',' or '}' after the value of \"\(key)\", found \(found)")
            }
        }
    }

    private mutating func array(depth: Int) throws -> JSONValue {
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return .array(items)
        }
        while true {
            path.append(.index(items.count))
            items.append(try value(depth: depth + 1))
            path.removeLast()
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: ",") {
                i += 1
            } else if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            } else {
                throw syntaxError("expected ',' or ']' after an item, found \(found)")
            }
        }
    }

    /// A string starting at the opening quote; escapes decoded, the bytes checked as UTF-8.
    private mutating func string(isKey: Bool = false) throws -> String {
        i += 1
        let start = i
        var decoded: [UInt8]? = nil
        while true {
            guard i < bytes.count else { throw syntaxError("a string is not closed before the end of the file") }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 { throw syntaxError("a control character (\(found)) in a string: write it as an escape, \\n or \\u00XX") }
            if b != UInt8(ascii: "\\") {
                decoded?.append(b)
                i += 1
                continue
            }
            if decoded == nil { decoded = Array(bytes[start..<i]) }
            guard i + 1 < bytes.count else { throw syntaxError("a string is not closed before the end of the file") }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded!.append(e)
            case UInt8(ascii: "b"): decoded!.append(0x08)
            case UInt8(ascii: "f"): decoded!.append(0x0C)
            case UInt8(ascii: "n"): decoded!.append(0x0A)
            case UInt8(ascii: "r"): decoded!.append(0x0D)
            case UInt8(ascii: "t"): decoded!.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw syntaxError("a \\u escape of a high surrogate without its low surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw syntaxError("a \\u escape of a high surrogate without its low surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let s = Unicode.Scalar(scalar) else { throw syntaxError("a \\u escape of a lone low surrogate") }
                decoded!.append(contentsOf: UTF8.encode(s)!)
            default:
                i -= 1
                throw syntaxError("an unknown escape in a string: \\ then \(found) (a backslash is written \\\\)")
            }
        }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<i])
        i += 1
        let text = decoded.map { String(validating: $0, as: UTF8.self) } ?? String(validating: raw, as: UTF8.self)
        guard let text else { throw invalidUTF8(raw, isKey: isKey) }
        return text
    }

    /// Where in the file the first byte that is not UTF-8 is (escapes are ASCII, so the raw
    /// bytes hold it); the path is the value's, or for a key the object's.
    private func invalidUTF8(_ raw: UnsafeBufferPointer<UInt8>, isKey: Bool) -> Error {
        var offset = raw.baseAddress! - bytes.baseAddress!
        var iterator = raw.makeIterator()
        var decoder = Unicode.UTF8.ForwardParser()
        loop: while true {
            switch decoder.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput, .error: break loop
            }
        }
        let byte = String(bytes[min(offset, bytes.count - 1)], radix: 16, uppercase: true)
        return ConfigError(renderedPath, "invalid UTF-8 \(isKey ? "in a key " : "")(byte 0x\(byte) at offset \(offset)); the config must be UTF-8")
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw syntaxError("a \\u escape takes four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw syntaxError("a \\u escape takes four hex digits, found \(found)")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    /// RFC 8259's number grammar; short integers without a round trip through a string.
    private mutating func number() throws -> Double {
        let start = i
        var integer: Int64 = 0
        var simple = true
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        let digits = i
        while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) {
            integer = integer &* 10 &+ Int64(bytes[i] - UInt8(ascii: "0"))
            i += 1
        }
        guard i > digits else { throw syntaxError("a number needs a digit after '-', found \(found)") }
        guard bytes[digits] != UInt8(ascii: "0") || i == digits + 1 else {
            i = digits
            throw syntaxError("a number with a leading zero")
        }
        if i - digits > 15 { simple = false }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            simple = false
            i += 1
            let fraction = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            guard i > fraction else { throw syntaxError("a number needs a digit after '.', found \(found)") }
        }
        if i < bytes.count, bytes[i] | 0x20 == UInt8(ascii: "e") {
            simple = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let exponent = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            guard i > exponent else { throw syntaxError("a number needs a digit in its exponent, found \(found)") }
        }
        if simple { return Double(bytes[start] == UInt8(ascii: "-") ? -integer : integer) }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        // (The grammar is checked: what Double cannot hold is a magnitude, 1e400.)
        guard let d = Double(text), d.isFinite else { throw ConfigError(renderedPath, "number out of range: \(text)") }
        return d
    }
}
