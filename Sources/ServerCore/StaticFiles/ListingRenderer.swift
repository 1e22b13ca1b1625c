#if canImport(Glibc)
import Glibc
#endif

/// eXpServer's directory listing page (compat 3.2): `<h1>eXpServer</h1>`, `Index of&nbsp;{path}`,
/// one `<tr>` per entry whose link is `<a href='{base}/{name}'>{name}{/ for dirs}</a>`, with a size
/// cell (`%.2fKB`) and a modification-time cell. `{base}` is the pathname without one trailing
/// `/`, so hrefs are absolute and `/test` lists without a redirect. Names are HTML-escaped in the
/// text and percent-encoded in the href.
public enum ListingRenderer {
    public static func html(pathname: String, listing: DirectoryListing) -> String {
        let base = pathname.hasSuffix("/") ? String(pathname.dropLast()) : pathname
        let shown = escapeHTML(pathname)
        var out = """
            <!DOCTYPE html>
            <html>
            <head>
            <meta charset="UTF-8">
            <meta name="viewport" content="width=device-width, initial-scale=1.0">
            <title>Directory: \(shown)</title>
            <style>
            body { font-family: sans-serif; margin: 2em; }
            table { border-collapse: collapse; }
            td { padding: 0.2em 1.5em 0.2em 0; }
            a { text-decoration: none; }
            </style>
            </head>
            <body>
            <h1>eXpServer</h1>
            <h3>Index of&nbsp;\(shown)</h3>
            <hr>
            <table>

            """
        for e in listing.entries {
            let href = escapeHTML(percentEncodePath(base) + "/" + percentEncodeSegment(e.name))
            let text = escapeHTML(e.name) + (e.isDirectory ? "/" : "")
            let size = e.isDirectory ? "" : formatKB(e.size)
            out += "<tr><td><a href='\(href)'>\(text)</a></td><td>\(size)</td><td>\(formatTime(e.mtime))</td></tr>\n"
        }
        out += "</table></body></html>\n"
        return out
    }

    public static func escapeHTML(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters and a few safe sub-delims.
    static func percentEncodeSegment(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "("), UInt8(ascii: ")"),
                UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="),
                UInt8(ascii: ":"), UInt8(ascii: "@"):
                out.unicodeScalars.append(UnicodeScalar(b))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(UnicodeScalar(hex[Int(b >> 4)])) + String(UnicodeScalar(hex[Int(b & 15)]))
            }
        }
        return out
    }

    static func percentEncodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { percentEncodeSegment(String($0)) }
            .joined(separator: "/")
    }

    static func formatKB(_ size: Int) -> String {
        let kb = Double(size) / 1024
        let hundredths = Int((kb * 100).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)KB"
    }

    static func formatTime(_ epoch: Int) -> String {
        var t = time_t(epoch)
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday)) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))"
    }
}
