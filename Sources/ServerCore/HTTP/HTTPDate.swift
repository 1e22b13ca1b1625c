#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOPosix

/// RFC 9110 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) formatting and parsing, without
/// Foundation: formatting runs for every response, so the current second's string is cached per thread.
public enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    final class Cached {
        var second: Int = -1
        var text: String = ""
    }
    nonisolated(unsafe) private static let cache = ThreadSpecificVariable<Cached>()

    /// The `Date` header value for now, recomputed at most once a second per thread.
    public static func now() -> String {
        let t = time(nil)
        let cached: Cached
        if let c = cache.currentValue {
            cached = c
        } else {
            cached = Cached()
            cache.currentValue = cached
        }
        if cached.second != t {
            cached.second = t
            cached.text = format(epochSeconds: t)
        }
        return cached.text
    }

    public static func format(epochSeconds: Int) -> String {
        var t = time_t(epochSeconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) "
            + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
    }

    /// Parses an IMF-fixdate; nil for anything else (obsolete formats are not accepted).
    public static func parse(_ text: String) -> Int? {
        let b = Array(text.utf8)
        guard b.count == 29, b[3] == UInt8(ascii: ","), b[4] == 32, b[7] == 32, b[11] == 32, b[16] == 32,
            b[19] == UInt8(ascii: ":"), b[22] == UInt8(ascii: ":"), b[25] == 32,
            String(decoding: b[26...28], as: UTF8.self) == "GMT"
        else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let day = num(5..<7), let year = num(12..<16), let hh = num(17..<19), let mm = num(20..<22),
            let ss = num(23..<25),
            let month = months.firstIndex(of: String(decoding: b[8..<11], as: UTF8.self)),
            day >= 1, day <= 31, hh < 24, mm < 60, ss < 61
        else { return nil }
        var tm = tm()
        tm.tm_year = Int32(year - 1900)
        tm.tm_mon = Int32(month)
        tm.tm_mday = Int32(day)
        tm.tm_hour = Int32(hh)
        tm.tm_min = Int32(mm)
        tm.tm_sec = Int32(ss)
        return Int(timegm(&tm))
    }
}
