/// `Accept-Encoding` negotiation (RFC 9110 §12.5.3), for gzip. Pure.
///
/// gzip is acceptable when the header lists `gzip` (or `x-gzip`) with q > 0, or does not list it
/// but lists `*` with q > 0. `gzip;q=0` refuses it even if `*` is allowed. No header: not
/// acceptable (identity is always fine). eXpServer only looked for the substring `gzip`; the
/// difference shows only for `q=0` and `*`.
public enum AcceptEncoding {
    public static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var gzipQ: Double? = nil
        var starQ: Double? = nil
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let first = parts.first else { continue }
            let coding = first.trimmingSpaces().lowercased()
            var q = 1.0
            for param in parts.dropFirst() {
                let p = param.trimmingSpaces()
                if p.lowercased().hasPrefix("q=") { q = Double(p.dropFirst(2)) ?? 0 }
            }
            if coding == "gzip" || coding == "x-gzip" {
                gzipQ = max(gzipQ ?? 0, q)
            } else if coding == "*" {
                starQ = q
            }
        }
        if let gzipQ { return gzipQ > 0 }
        return (starQ ?? 0) > 0
    }
}
