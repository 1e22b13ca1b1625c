/// Case-insensitive header-name matching (ASCII letters fold; nothing else does), on raw bytes
/// (the upstream's response) and on strings (the client's request, from NIO's decoder).
enum HeaderName {
    /// What a header field is to the proxy, either way (the hop-by-hop set of RFC 9110 §7.6.1,
    /// the framing fields, and the forwarding fields the request gains).
    enum Kind {
        case endToEnd, hopByHop, connection, transferEncoding, contentLength, forwardedFor, forwardedProto
    }

    static func kind(_ name: UnsafeRawBufferPointer) -> Kind {
        switch name.count {
        case 2: return equals(name, "te") ? .hopByHop : .endToEnd
        case 7: return equals(name, "trailer") || equals(name, "upgrade") ? .hopByHop : .endToEnd
        case 10:
            if equals(name, "connection") { return .connection }
            return equals(name, "keep-alive") ? .hopByHop : .endToEnd
        case 14: return equals(name, "content-length") ? .contentLength : .endToEnd
        case 15: return equals(name, "x-forwarded-for") ? .forwardedFor : .endToEnd
        case 16: return equals(name, "proxy-connection") ? .hopByHop : .endToEnd
        case 17:
            if equals(name, "transfer-encoding") { return .transferEncoding }
            return equals(name, "x-forwarded-proto") ? .forwardedProto : .endToEnd
        default: return .endToEnd
        }
    }

    static func kind(_ name: Substring) -> Kind {
        name.utf8.withContiguousStorageIfAvailable { kind(UnsafeRawBufferPointer($0)) }
            ?? Array(name.utf8).withUnsafeBytes { kind($0) }
    }

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
