/// Turns a request target into a safe, normalised pathname. Pure: no filesystem access.
///
/// Steps, in order:
/// 1. absolute-form (`http://host:port/p`) keeps only its path; anything not starting with `/` is 400;
/// 2. the pathname stops at the first `?` or `#` (the query is ignored for routing and files);
/// 3. `%XX` is decoded; a malformed escape or a decoded NUL is 400;
/// 4. runs of `/` collapse (`//sample.pdf` is `/sample.pdf`), `.` segments vanish, `..` pops a
///    segment; a `..` that would climb above `/` is 403. Because decoding comes first, `%2e%2e`
///    and encoded slashes are normalised the same way, and no segment of the result is `.`, `..`,
///    empty, or contains `/` or NUL.
/// A trailing slash is kept (`/test/` stays `/test/`), since the listing shows the path as asked.
public enum PathResolver {
    public enum Failure: Error, Equatable {
        case badRequest
        case forbidden
    }

    /// The same for a whole target string: a target that is its own pathname (origin-form, no
    /// query, already normal: the usual case) comes back as it is, without a new string.
    public static func pathname(fromTarget target: String) -> Result<String, Failure> {
        var target = target
        let whole = target.withUTF8 { $0.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } == nil && isNormal($0) }
        return whole ? .success(target) : pathname(fromTarget: target[...])
    }

    public static func pathname(fromTarget target: Substring) -> Result<String, Failure> {
        // The common case on the target's bytes in place: origin-form, already normal.
        if let fast = target.utf8.withContiguousStorageIfAvailable({ normalOriginForm($0) }), let path = fast {
            return .success(path)
        }
        var bytes = target.utf8[...]
        if bytes.first != UInt8(ascii: "/") {
            guard let parts = absoluteForm(bytes) else { return .failure(.badRequest) }
            bytes = parts.rest
            if bytes.first != UInt8(ascii: "/") { bytes = "/".utf8[...] }
        }
        if let end = bytes.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            bytes = bytes[..<end]
        }
        if isNormal(bytes) { return .success(String(Substring(bytes))) }
        guard let decoded = percentDecode(bytes) else { return .failure(.badRequest) }
        return normalise(decoded)
    }

    /// An absolute-form target's parts, `scheme://authority` and the rest (path and query, maybe
    /// empty); nil for a target that is not one (origin-form, or malformed: 400).
    static func absoluteForm(_ bytes: Substring.UTF8View)
        -> (scheme: Substring.UTF8View, authority: Substring.UTF8View, rest: Substring.UTF8View)?
    {
        guard let schemeEnd = bytes.firstIndex(of: UInt8(ascii: ":")),
            bytes[..<schemeEnd].allSatisfy({ isAlpha($0) }), !bytes[..<schemeEnd].isEmpty,
            bytes[schemeEnd...].starts(with: "://".utf8)
        else { return nil }
        let authorityStart = bytes.index(schemeEnd, offsetBy: 3)
        let rest = bytes[authorityStart...]
        let pathStart = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) ?? rest.endIndex
        guard rest[..<pathStart].allSatisfy({ isAuthorityByte($0) }), pathStart != authorityStart else { return nil }
        return (bytes[..<schemeEnd], rest[..<pathStart], rest[pathStart...])
    }

    /// The pathname of an origin-form target that `isNormal`, else nil.
    private static func normalOriginForm(_ target: UnsafeBufferPointer<UInt8>) -> String? {
        let end = target.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? target.count
        let path = UnsafeBufferPointer(rebasing: target[..<end])
        return isNormal(path) ? String(decoding: path, as: UTF8.self) : nil
    }

    /// The common case, taken without decoding or copying: no escapes and no empty, `.` or `..`
    /// segment, so `normalise(percentDecode(bytes))` would give the bytes back unchanged.
    static func isNormal<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bool {
        guard bytes.first == UInt8(ascii: "/") else { return false }
        var length = 0
        var dots = 0
        for b in bytes.dropFirst() {
            switch b {
            case UInt8(ascii: "/"):
                if length == 0 || (dots == length && dots <= 2) { return false }
                length = 0
                dots = 0
            case UInt8(ascii: "%"), 0:
                return false
            case UInt8(ascii: "."):
                length += 1
                dots += 1
            default:
                length += 1
            }
        }
        return !(length > 0 && dots == length && dots <= 2)
    }

    static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }

    static func isAuthorityByte(_ b: UInt8) -> Bool {
        isAlpha(b) || (b >= 48 && b <= 57) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
            || b == UInt8(ascii: ":") || b == UInt8(ascii: "[") || b == UInt8(ascii: "]")
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 48...57: return b - 48
        case 65...70: return b - 55
        case 97...102: return b - 87
        default: return nil
        }
    }

    /// Decodes `%XX`; nil on a malformed escape or a NUL byte.
    static func percentDecode(_ bytes: Substring.UTF8View.SubSequence) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i != bytes.endIndex {
            var b = bytes[i]
            if b == UInt8(ascii: "%") {
                let h1 = bytes.index(after: i)
                guard h1 != bytes.endIndex else { return nil }
                let h2 = bytes.index(after: h1)
                guard h2 != bytes.endIndex, let hi = hexValue(bytes[h1]), let lo = hexValue(bytes[h2]) else { return nil }
                b = hi << 4 | lo
                i = h2
            }
            if b == 0 { return nil }
            out.append(b)
            i = bytes.index(after: i)
        }
        return out
    }

    static func normalise(_ path: [UInt8]) -> Result<String, Failure> {
        var segments: [ArraySlice<UInt8>] = []
        var start = 0
        let trailingSlash = path.count > 1 && path.last == UInt8(ascii: "/")
        for i in 0...path.count where i == path.count || path[i] == UInt8(ascii: "/") {
            let seg = path[start..<i]
            start = i + 1
            if seg.isEmpty || seg.elementsEqual([UInt8(ascii: ".")]) { continue }
            if seg.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if segments.isEmpty { return .failure(.forbidden) }
                segments.removeLast()
                continue
            }
            segments.append(seg)
        }
        var out: [UInt8] = []
        out.reserveCapacity(path.count)
        for seg in segments {
            out.append(UInt8(ascii: "/"))
            out.append(contentsOf: seg)
        }
        if out.isEmpty || (trailingSlash && !segments.isEmpty) { out.append(UInt8(ascii: "/")) }
        return .success(String(decoding: out, as: UTF8.self))
    }

    /// The part of `pathname` below the route prefix, always starting with `/` (or empty for the
    /// route's root), e.g. route `/static` + `/static/a.txt` → `/a.txt`.
    public static func relative(_ pathname: String, toRoute reqPath: String) -> Substring {
        var rest = pathname.utf8.dropFirst(reqPath.utf8.count)
        if reqPath.hasSuffix("/") && !reqPath.isEmpty { rest = pathname.utf8.dropFirst(reqPath.utf8.count - 1) }
        return Substring(rest)
    }
}
