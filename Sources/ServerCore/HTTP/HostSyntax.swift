/// The syntax of a `Host` field value (RFC 9112 §3.2: `uri-host [ ":" port ]`, RFC 3986 §3.2.2):
/// a bracketed IPv6 literal or a registered name (unreserved characters, sub-delimiters and
/// percent-escapes), then optionally a colon and digits. Anything else is 400 (RFC 9112 §3.2: a
/// Host with an invalid value). Stricter than the grammar in one way, as nginx is: two dots in a
/// row are refused (no name has an empty label; a `..` in a Host is an attack on whatever builds
/// a path from it). An empty value is valid (a target without an authority).
///
/// The Host picks the server and its routes (and is what reaches an upstream when it is relayed),
/// so a value such as `good.test:80@evil.com`, `a/../b` or one with spaces or control bytes must
/// not be taken for a name.
enum HostSyntax {
    static func isValid(_ value: UnsafeRawBufferPointer) -> Bool {
        let n = value.count
        var i = 0
        if n > 0 && value[0] == UInt8(ascii: "[") {
            // IP-literal: hex digits, colons and dots (an embedded IPv4), then `]`.
            i = 1
            while i < n && (isHex(value[i]) || value[i] == UInt8(ascii: ":") || value[i] == UInt8(ascii: ".")) { i += 1 }
            guard i > 1, i < n, value[i] == UInt8(ascii: "]") else { return false }
            i += 1
        } else {
            // One table lookup per byte in the usual case; `%XX` and `..` looked at on the side.
            var previous: UInt8 = 0
            while i < n {
                let b = value[i]
                if b == UInt8(ascii: ":") { break }
                if !isRegNameByte(b) {
                    guard b == UInt8(ascii: "%"), i + 2 < n, isHex(value[i + 1]), isHex(value[i + 2]) else { return false }
                    i += 3
                    previous = b
                    continue
                }
                if b == UInt8(ascii: "."), previous == b { return false }
                previous = b
                i += 1
            }
        }
        guard i < n else { return true }
        guard i > 0 else { return false }  // a port without a host
        // `:` and the port: digits, possibly none.
        guard value[i] == UInt8(ascii: ":") else { return false }
        i += 1
        while i < n {
            guard value[i] >= UInt8(ascii: "0") && value[i] <= UInt8(ascii: "9") else { return false }
            i += 1
        }
        return true
    }

    @inline(__always)
    private static func isHex(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "f"))
    }

    /// unreserved (`ALPHA DIGIT - . _ ~`) and sub-delims (`! $ & ' ( ) * + , ; =`): a bit per
    /// ASCII byte in two words (a lookup, not a chain of comparisons: this runs on every request).
    @inline(__always)
    private static func isRegNameByte(_ b: UInt8) -> Bool {
        let low: UInt64 = 0x2BFF_7FD2_0000_0000  // bytes 0-63: ! $ & ' ( ) * + , - . 0-9 ; =
        let high: UInt64 = 0x47FF_FFFE_87FF_FFFE  // bytes 64-127: A-Z _ a-z ~
        return b < 64 ? (low >> UInt64(b)) & 1 != 0 : b < 128 ? (high >> UInt64(b - 64)) & 1 != 0 : false
    }
}
