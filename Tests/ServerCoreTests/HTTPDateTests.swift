import XCTest

@testable import ServerCore

/// IMF-fixdate formatting and strict parsing.
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
            "Sunday, 06-Nov-94 08:49:37 GMT",  // RFC 850
            "Sun Nov  6 08:49:37 1994",  // asctime
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
