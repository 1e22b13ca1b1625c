import XCTest

@testable import ServerCore

/// IMF-fixdate formatting; HTTP-date parsing (IMF-fixdate, RFC 850, asctime), strict otherwise.
final class HTTPDateTests: XCTestCase {
    func testFormat() {
        XCTAssertEqual(HTTPDate.format(epochSeconds: 784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT")
        XCTAssertEqual(HTTPDate.format(epochSeconds: 0), "Thu, 01 Jan 1970 00:00:00 GMT")
        XCTAssertEqual(HTTPDate.format(epochSeconds: 1_000_000_000), "Sun, 09 Sep 2001 01:46:40 GMT")
        XCTAssertEqual(HTTPDate.format(epochSeconds: 951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT")
    }

    func testParse() {
        XCTAssertEqual(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784_111_777)
        XCTAssertEqual(HTTPDate.parse("Thu, 01 Jan 1970 00:00:00 GMT"), 0)
    }

    /// The obsolete forms a recipient must accept (RFC 9110 §5.6.7).
    func testParseObsoleteForms() {
        XCTAssertEqual(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784_111_777)
        XCTAssertEqual(HTTPDate.parse("Wednesday, 09-Nov-94 08:49:37 GMT"), 784_111_777 + 3 * 86_400)
        XCTAssertEqual(HTTPDate.parse("Sun Nov  6 08:49:37 1994"), 784_111_777)
        XCTAssertEqual(HTTPDate.parse("Thu Jan 01 00:00:00 1970"), 0)
        XCTAssertEqual(HTTPDate.parse("Sun Sep  9 01:46:40 2001"), 1_000_000_000)
    }

    /// An RFC 850 two-digit year more than 50 years ahead of now is the most recent past year with
    /// those digits (RFC 9110 §5.6.7).
    func testTwoDigitYears() throws {
        func year(_ yy: String, now nowYear: Int) throws -> Int {
            let now = try XCTUnwrap(HTTPDate.parse("Thu, 01 Jul \(nowYear) 00:00:00 GMT"))
            let t = try XCTUnwrap(HTTPDate.parse("Friday, 01-Jan-\(yy) 00:00:00 GMT", now: now), yy)
            return Int(HTTPDate.format(epochSeconds: t).dropFirst(12).prefix(4))!
        }
        XCTAssertEqual(try year("94", now: 2025), 1994)
        XCTAssertEqual(try year("25", now: 2025), 2025)
        XCTAssertEqual(try year("30", now: 2025), 2030)
        XCTAssertEqual(try year("75", now: 2025), 2075, "50 years ahead is still ahead")
        XCTAssertEqual(try year("76", now: 2025), 1976, "51 years ahead is the past")
        XCTAssertEqual(try year("00", now: 2025), 2000)
        XCTAssertEqual(try year("01", now: 2099), 2101, "two years ahead, across a century")
        XCTAssertEqual(try year("50", now: 2000), 2050)
        XCTAssertEqual(try year("51", now: 2000), 1951)
    }

    func testRoundTrip() {
        for t in [0, 1, 59, 86_399, 784_111_777, 951_782_400, 1_000_000_000, 1_700_000_000, 2_147_483_647, 4_102_444_800] {
            let text = HTTPDate.format(epochSeconds: t)
            XCTAssertEqual(text.utf8.count, 29, text)
            XCTAssertEqual(HTTPDate.parse(text), t, text)
        }
    }

    func testNowIsCurrentAndParsable() {
        let now = Int(Date().timeIntervalSince1970)
        let parsed = HTTPDate.parse(HTTPDate.now())
        XCTAssertNotNil(parsed)
        XCTAssertLessThanOrEqual(abs((parsed ?? 0) - now), 2)
    }

    func testRejectsOtherFormats() {
        for text in [
            "", "yesterday",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sunday, 06 Nov 94 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 UTC",
            "Sunday, 06-Foo-94 08:49:37 GMT",
            "Sun, 06-Nov-94 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  6 08:49:37 94",
            "Sun Nov  6 08:49:37 1994 GMT",
            "Sun Nov  6 25:49:37 1994",
            "Sun Nov x6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 GMT ",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 19x4 08:49:37 GMT",
            "Sun, 06 Nov 1994 08-49-37 GMT",
        ] {
            XCTAssertNil(HTTPDate.parse(text), text)
        }
    }
}
