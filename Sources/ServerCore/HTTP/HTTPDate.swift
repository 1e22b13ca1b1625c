#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOPosix

/// RFC 9110 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) formatting, and HTTP-date parsing,
/// without Foundation: formatting runs for every response, so the current second's string is
/// cached per thread.
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

    /// Parses an HTTP-date (RFC 9110 §5.6.7): an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`)
    /// or one of the obsolete forms a recipient must accept, RFC 850 (`Sunday, 06-Nov-94
    /// 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`); nil for anything else.
    public static func parse(_ text: String) -> Int? {
        parse(text, now: nil)
    }

    /// `now` (epoch seconds; nil: the clock's) places an RFC 850 two-digit year: in the century
    /// that puts it at most 50 years ahead of now (a year further ahead is the most recent past
    /// one with those digits, RFC 9110 §5.6.7).
    static func parse(_ text: String, now: Int?) -> Int? {
        let b = Array(text.utf8)
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        func monthIndex(_ at: Int) -> Int? { months.firstIndex(of: String(decoding: b[at..<at + 3], as: UTF8.self)) }
        /// `HH:MM:SS` from `at`.
        func hms(_ at: Int) -> (Int, Int, Int)? {
            guard b[at + 2] == UInt8(ascii: ":"), b[at + 5] == UInt8(ascii: ":"), let hh = num(at..<at + 2),
                let mm = num(at + 3..<at + 5), let ss = num(at + 6..<at + 8)
            else { return nil }
            return (hh, mm, ss)
        }
        func isGMT(_ at: Int) -> Bool {
            b[at] == UInt8(ascii: "G") && b[at + 1] == UInt8(ascii: "M") && b[at + 2] == UInt8(ascii: "T")
        }
        if b.count == 29 && b[3] == UInt8(ascii: ",") {
            // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
            guard b[4] == 32, b[7] == 32, b[11] == 32, b[16] == 32, b[25] == 32, isGMT(26),
                let day = num(5..<7), let month = monthIndex(8), let year = num(12..<16), case let (hh, mm, ss)? = hms(17)
            else { return nil }
            return epoch(year: year, month: month, day: day, hh, mm, ss)
        }
        if let comma = b.firstIndex(of: UInt8(ascii: ",")), (6...9).contains(comma), b.count == comma + 24 {
            // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`
            let c = comma
            guard b[c + 1] == 32, b[c + 4] == UInt8(ascii: "-"), b[c + 8] == UInt8(ascii: "-"), b[c + 11] == 32,
                b[c + 20] == 32, isGMT(c + 21), let day = num(c + 2..<c + 4), let month = monthIndex(c + 5),
                let yy = num(c + 9..<c + 11), case let (hh, mm, ss)? = hms(c + 12)
            else { return nil }
            let nowYear = Int(utc(now ?? time(nil)).tm_year) + 1900
            let latest = nowYear + 50
            return epoch(year: latest - (latest - yy) % 100, month: month, day: day, hh, mm, ss)
        }
        if b.count == 24 {
            // asctime: `Sun Nov  6 08:49:37 1994` (a one-digit day after a space)
            guard b[3] == 32, b[7] == 32, b[10] == 32, b[19] == 32, let month = monthIndex(4),
                let day = b[8] == 32 ? num(9..<10) : num(8..<10), case let (hh, mm, ss)? = hms(11), let year = num(20..<24)
            else { return nil }
            return epoch(year: year, month: month, day: day, hh, mm, ss)
        }
        return nil
    }

    private static func utc(_ seconds: Int) -> tm {
        var t = time_t(seconds)
        var out = tm()
        gmtime_r(&t, &out)
        return out
    }

    private static func epoch(year: Int, month: Int, day: Int, _ hh: Int, _ mm: Int, _ ss: Int) -> Int? {
        guard day >= 1, day <= 31, hh < 24, mm < 60, ss < 61 else { return nil }
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
