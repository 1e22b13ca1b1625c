/// Case-insensitive header-name matching (ASCII letters fold; nothing else does), on the raw
/// bytes of heads as they are parsed and relayed.
enum HeaderName {
    /// What a header field is to the proxy, either way (the hop-by-hop set of RFC 9110 §7.6.1,
    /// the framing fields, and the forwarding fields the request gains).
    enum Kind {
        case endToEnd, hopByHop, connection, transferEncoding, contentLength, forwardedFor, forwardedProto
    }

    static func kind(_ name: UnsafeRawBufferPointer) -> Kind {
        // Every special name starts with one of c, k, p, t, u, x: most fields are decided by
        // their length and first letter alone.
        guard let first = name.first else { return .endToEnd }
        switch first | 0x20 {
        case UInt8(ascii: "c"), UInt8(ascii: "k"), UInt8(ascii: "p"), UInt8(ascii: "t"), UInt8(ascii: "u"), UInt8(ascii: "x"): break
        default: return .endToEnd
        }
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

    /// ASCII case-insensitive equality of raw bytes with a lowercase name.
    static func equals(_ bytes: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        for i in 0..<bytes.count where !sameIgnoringCase(bytes[i], l[i]) { return false }
        return true
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ other: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == other.count else { return false }
        for i in 0..<bytes.count where !sameIgnoringCase(bytes[i], other[i]) { return false }
        return true
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ other: [UInt8]) -> Bool {
        other.withUnsafeBytes { equals(bytes, $0) }
    }

    /// The one folding rule: equal bytes, or the same ASCII letter in either case.
    @inline(__always)
    private static func sameIgnoringCase(_ x: UInt8, _ y: UInt8) -> Bool {
        x == y || (x | 0x20 == y | 0x20 && isLetter(y | 0x20))
    }

    private static func isLetter(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }

    /// RFC 9110 `tchar`, one character per byte value ("1": a token byte): constant data, so a
    /// test is one load and compare (a name's bytes are checked one by one on every relayed line).
    @inline(__always)
    private static var tokenTable: StaticString {
        """
        0000000000000000000000000000000001011111001101101111111111000000\
        0111111111111111111111111110001111111111111111111111111111101010\
        0000000000000000000000000000000000000000000000000000000000000000\
        0000000000000000000000000000000000000000000000000000000000000000
        """
    }

    @inline(__always)
    static func isTokenByte(_ b: UInt8) -> Bool {
        tokenTable.utf8Start[Int(b)] == UInt8(ascii: "1")
    }
}
