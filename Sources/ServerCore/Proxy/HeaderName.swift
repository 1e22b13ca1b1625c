/// Case-insensitive header-name matching (ASCII letters fold; nothing else does), on raw bytes
/// (the upstream's response) and on strings (the client's request, from NIO's decoder).
enum HeaderName {
    /// ASCII case-insensitive equality of raw bytes with a lowercase name.
    static func equals(_ bytes: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        for i in 0..<bytes.count where bytes[i] | 0x20 != l[i] || (bytes[i] != l[i] && !isLetter(l[i])) {
            return false
        }
        return true
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ other: [UInt8]) -> Bool {
        guard bytes.count == other.count else { return false }
        for i in 0..<bytes.count where bytes[i] != other[i] && (bytes[i] | 0x20 != other[i] | 0x20 || !isLetter(other[i] | 0x20)) {
            return false
        }
        return true
    }

    static func equals(_ a: Substring, _ other: String) -> Bool {
        guard a.utf8.count == other.utf8.count else { return false }
        return zip(a.utf8, other.utf8).allSatisfy { x, y in x == y || (x | 0x20) == (y | 0x20) && isLetter(y | 0x20) }
    }

    private static func isLetter(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }

    /// RFC 9110 `tchar`. (A switch, not a static table: every access to a static goes through
    /// its lazy initialiser's check, which cost more than the comparisons.)
    @inline(__always)
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
