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
            var previousDot = false
            while i < n && value[i] != UInt8(ascii: ":") {
                let b = value[i]
                if b == UInt8(ascii: "%") {
                    guard i + 2 < n, isHex(value[i + 1]), isHex(value[i + 2]) else { return false }
                    i += 3
                    previousDot = false
                    continue
                }
                guard isRegNameByte(b) else { return false }
                if b == UInt8(ascii: ".") {
                    if previousDot { return false }
                    previousDot = true
                } else {
                    previousDot = false
                }
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

    /// unreserved (`ALPHA DIGIT - . _ ~`) and sub-delims (`! $ & ' ( ) * + , ; =`).
    @inline(__always)
    private static func isRegNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }
}
