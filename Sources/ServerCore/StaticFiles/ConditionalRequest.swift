/// RFC 9110 preconditions and single byte ranges for static files. Pure.
public enum ConditionalRequest {
    public enum Precondition: Equatable {
        /// Serve the file (its range, if one is asked for, is `range`'s).
        case proceed
        /// 304 Not Modified.
        case notModified
        /// 412 Precondition Failed.
        case failed
    }

    /// The preconditions in RFC 9110 §13.2.2's order: `If-Match` (else `If-Unmodified-Since`)
    /// that fails is 412; then `notModified` is 304; else the file is served (and `If-Range`/
    /// `Range` are looked at). Every method is served as GET (compat 2.1), so steps 3–4 apply to
    /// all. A date that does not parse is ignored (§13.1.4), as is a date equal to ours.
    /// `now` (seconds since 1970) is read only for an `If-Modified-Since` that needs it.
    public static func evaluate(
        ifMatch: String?, ifUnmodifiedSince: String?, ifNoneMatch: String?, ifModifiedSince: String?, etag: String,
        lastModified: String, mtime: Int, getOrHead: Bool = true, now: @autoclosure () -> Int
    ) -> Precondition {
        if let ifMatch {
            if !strongListMatches(ifMatch, etag: etag) { return .failed }
        } else if let ius = ifUnmodifiedSince, ius != lastModified, let t = HTTPDate.parse(ius), mtime > t {
            return .failed
        }
        // Another method (file_serve answers every method as GET, as eXpServer does): a matching
        // If-None-Match is a failed precondition, and If-Modified-Since does not apply (RFC 9110
        // §13.1.2, §13.1.3): a 304 is only for GET and HEAD.
        guard getOrHead else {
            return ifNoneMatch.map { etagListMatches($0, etag: etag) } == true ? .failed : .proceed
        }
        return notModified(ifNoneMatch: ifNoneMatch, ifModifiedSince: ifModifiedSince, etag: etag, lastModified: lastModified, mtime: mtime,
                           now: now()) ? .notModified : .proceed
    }

    /// `If-None-Match` takes precedence over `If-Modified-Since` (RFC 9110 §13.2.2). A date later
    /// than `now` is not one the client can have had the file at (a skewed clock, or made up), so
    /// it is ignored (RFC 7232 §3.3: "invalid"; Apache does the same): the file could have changed
    /// since the client's copy however it compares with the file's time.
    public static func notModified(ifNoneMatch: String?, ifModifiedSince: String?, etag: String, lastModified: String, mtime: Int,
                                   now: @autoclosure () -> Int) -> Bool {
        if let inm = ifNoneMatch {
            return etagListMatches(inm, etag: etag)
        }
        if let ims = ifModifiedSince {
            if ims == lastModified { return true }
            if let t = HTTPDate.parse(ims), t <= now() { return mtime <= t }
        }
        return false
    }

    /// Weak comparison of an `If-None-Match` list (`*`, `"a", W/"b"`) against our ETag.
    public static func etagListMatches(_ list: String, etag: String) -> Bool {
        let ours = etag.hasPrefix("W/") ? etag.dropFirst(2) : Substring(etag)
        for item in list.split(separator: ",") {
            var tag = item.drop(while: { $0 == " " || $0 == "\t" })
            while let last = tag.last, last == " " || last == "\t" { tag = tag.dropLast() }
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
            if tag == ours { return true }
        }
        return false
    }

    /// Strong comparison of an `If-Match` list against our ETag (RFC 9110 §13.1.1): `*`, or the
    /// same opaque tag with neither weak.
    public static func strongListMatches(_ list: String, etag: String) -> Bool {
        if etag.hasPrefix("W/") { return list.trimmingSpaces() == "*" }
        for item in list.split(separator: ",") {
            let tag = item.trimmingSpaces()
            if tag == "*" || tag == etag { return true }
        }
        return false
    }

    public enum RangeResult: Equatable {
        /// No usable Range (absent, not bytes, several ranges, or If-Range mismatch): send it all.
        case full
        case partial(offset: Int, count: Int)
        case unsatisfiable
    }

    /// One `bytes=` range against a body of `size` bytes. Multiple ranges are answered with the
    /// whole body (allowed by RFC 9110 §14.2), so a client never gets multipart.
    public static func range(_ header: String?, ifRange: String?, size: Int, etag: String, lastModified: String) -> RangeResult {
        guard let header else { return .full }
        if let ifRange, ifRange != etag, ifRange != lastModified { return .full }
        // The unit is case-insensitive (RFC 9110 §14.1: `Bytes=0-4` is a byte range).
        let unit = header.utf8.prefix(6)
        guard unit.count == 6, unit.last == UInt8(ascii: "="),
            unit.prefix(5).elementsEqual("bytes".utf8, by: { $0 | 0x20 == $1 })
        else { return .full }
        let spec = header.dropFirst(6).trimmingSpaces()
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .full }
        let first = spec[..<dash].trimmingSpaces()
        let last = spec[spec.index(after: dash)...].trimmingSpaces()
        guard first.allSatisfy(\.isASCIIDigit), last.allSatisfy(\.isASCIIDigit) else { return .full }
        if first.isEmpty {
            // suffix range: the last N bytes
            guard let n = Int(last), n > 0 else { return last.isEmpty ? .full : .unsatisfiable }
            // (An empty file: a suffix range is satisfiable, RFC 9110 §14.1.1, and the whole, empty
            // representation is used; no Content-Range can name zero bytes, so it is a 200.)
            guard size > 0 else { return .full }
            let count = min(n, size)
            return .partial(offset: size - count, count: count)
        }
        guard let start = Int(first) else { return .unsatisfiable }
        guard start < size else { return .unsatisfiable }
        var end = size - 1
        if !last.isEmpty {
            guard let e = Int(last) else { return .partial(offset: start, count: size - start) }
            guard e >= start else { return .full }
            end = min(e, size - 1)
        }
        return .partial(offset: start, count: end - start + 1)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension StringProtocol {
    func trimmingSpaces() -> SubSequence {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
