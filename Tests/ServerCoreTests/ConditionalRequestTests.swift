import XCTest

@testable import ServerCore

/// Precondition decisions (If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since, in
/// RFC 9110 §13.2.2's order) and the single-range table.
final class ConditionalRequestTests: XCTestCase {
    let etag = "\"5f5e100-4da\""
    let lastModified = "Sun, 09 Sep 2001 01:46:40 GMT"
    let mtime = 1_000_000_000

    /// "Now" in these tests: a day after the file's time.
    let now = 1_000_086_400

    func notModified(inm: String? = nil, ims: String? = nil) -> Bool {
        ConditionalRequest.notModified(ifNoneMatch: inm, ifModifiedSince: ims, etag: etag, lastModified: lastModified, mtime: mtime, now: now)
    }

    func testETagLists() {
        XCTAssertTrue(ConditionalRequest.etagListMatches(etag, etag: etag))
        XCTAssertTrue(ConditionalRequest.etagListMatches("*", etag: etag))
        XCTAssertTrue(ConditionalRequest.etagListMatches(" * ", etag: etag))
        XCTAssertTrue(ConditionalRequest.etagListMatches("\"a\", \(etag)", etag: etag))
        XCTAssertTrue(ConditionalRequest.etagListMatches("\"a\",\(etag),\"b\"", etag: etag))
        XCTAssertTrue(ConditionalRequest.etagListMatches("\t\(etag)\t", etag: etag))
        XCTAssertTrue(ConditionalRequest.etagListMatches("W/\(etag)", etag: etag), "weak comparison")
        XCTAssertTrue(ConditionalRequest.etagListMatches(etag, etag: "W/\(etag)"))
        XCTAssertFalse(ConditionalRequest.etagListMatches("\"a\", \"b\"", etag: etag))
        XCTAssertFalse(ConditionalRequest.etagListMatches("", etag: etag))
        XCTAssertFalse(ConditionalRequest.etagListMatches("5f5e100-4da", etag: etag), "quotes are part of the tag")
    }

    func testNotModified() {
        XCTAssertFalse(notModified())
        XCTAssertTrue(notModified(inm: etag))
        XCTAssertTrue(notModified(inm: "*"))
        XCTAssertFalse(notModified(inm: "\"other\""))
        XCTAssertTrue(notModified(ims: lastModified))
        XCTAssertTrue(notModified(ims: "Mon, 10 Sep 2001 00:00:00 GMT"), "newer than mtime")
        XCTAssertFalse(notModified(ims: "Sun, 06 Nov 1994 08:49:37 GMT"), "older than mtime")
        XCTAssertFalse(notModified(ims: "yesterday"))
        XCTAssertTrue(notModified(ims: "Mon, 10 Sep 2001 01:46:40 GMT"), "exactly now")
        XCTAssertFalse(notModified(ims: "Mon, 10 Sep 2001 01:46:41 GMT"), "later than now: ignored")
        XCTAssertFalse(notModified(ims: "Fri, 01 Jan 2100 00:00:00 GMT"), "later than now: ignored")
    }

    func testIfNoneMatchTakesPrecedence() {
        XCTAssertFalse(notModified(inm: "\"other\"", ims: lastModified))
        XCTAssertTrue(notModified(inm: etag, ims: "Sun, 06 Nov 1994 08:49:37 GMT"))
    }

    func evaluate(im: String? = nil, ius: String? = nil, inm: String? = nil, ims: String? = nil) -> ConditionalRequest.Precondition {
        ConditionalRequest.evaluate(
            ifMatch: im, ifUnmodifiedSince: ius, ifNoneMatch: inm, ifModifiedSince: ims, etag: etag, lastModified: lastModified,
            mtime: mtime, now: now)
    }

    /// If-Match compares strongly (RFC 9110 §13.1.1): `*`, or our tag exactly, neither weak.
    func testIfMatchListsCompareStrongly() {
        XCTAssertTrue(ConditionalRequest.strongListMatches(etag, etag: etag))
        XCTAssertTrue(ConditionalRequest.strongListMatches(" * ", etag: etag))
        XCTAssertTrue(ConditionalRequest.strongListMatches("\"a\",\t\(etag) ", etag: etag))
        XCTAssertFalse(ConditionalRequest.strongListMatches("W/\(etag)", etag: etag), "a weak tag never matches")
        XCTAssertFalse(ConditionalRequest.strongListMatches(etag, etag: "W/\(etag)"))
        XCTAssertTrue(ConditionalRequest.strongListMatches("*", etag: "W/\(etag)"))
        XCTAssertFalse(ConditionalRequest.strongListMatches("\"nope\"", etag: etag))
        XCTAssertFalse(ConditionalRequest.strongListMatches("", etag: etag))
    }

    /// A failed If-Match, or If-Unmodified-Since older than the file, is 412 (RFC 9110 §13.1.1,
    /// §13.1.4); If-Unmodified-Since is not looked at beside If-Match, nor when it is not a date.
    func testPreconditionFailed() {
        XCTAssertEqual(evaluate(), .proceed)
        XCTAssertEqual(evaluate(im: "\"nope\""), .failed)
        XCTAssertEqual(evaluate(im: etag), .proceed)
        XCTAssertEqual(evaluate(im: "*"), .proceed)
        XCTAssertEqual(evaluate(ius: "Thu, 01 Jan 1970 00:00:01 GMT"), .failed)
        XCTAssertEqual(evaluate(ius: "Sunday, 09-Sep-01 01:46:39 GMT"), .failed, "one second before, RFC 850")
        XCTAssertEqual(evaluate(ius: lastModified), .proceed)
        XCTAssertEqual(evaluate(ius: "Mon, 10 Sep 2001 00:00:00 GMT"), .proceed)
        XCTAssertEqual(evaluate(ius: "yesterday"), .proceed, "not a date: ignored")
        XCTAssertEqual(evaluate(im: etag, ius: "Thu, 01 Jan 1970 00:00:01 GMT"), .proceed, "If-Match wins")
        XCTAssertEqual(evaluate(im: "\"nope\"", ius: "Mon, 10 Sep 2001 00:00:00 GMT"), .failed)
    }

    /// For methods other than GET and HEAD (answered as GET by file_serve): a matching
    /// If-None-Match is 412, If-Modified-Since is ignored (RFC 9110 §13.1.2, §13.1.3).
    func testOtherMethodsNeverGet304() {
        func other(inm: String? = nil, ims: String? = nil) -> ConditionalRequest.Precondition {
            ConditionalRequest.evaluate(
                ifMatch: nil, ifUnmodifiedSince: nil, ifNoneMatch: inm, ifModifiedSince: ims, etag: etag, lastModified: lastModified,
                mtime: mtime, getOrHead: false, now: now)
        }
        XCTAssertEqual(other(inm: "*"), .failed)
        XCTAssertEqual(other(inm: "W/" + etag), .failed)
        XCTAssertEqual(other(inm: "\"other\""), .proceed)
        XCTAssertEqual(other(ims: lastModified), .proceed)
        XCTAssertEqual(other(), .proceed)
    }

    /// 412 is decided before 304 (§13.2.2 steps 1–2, then 3–4).
    func testPreconditionOrder() {
        XCTAssertEqual(evaluate(inm: etag), .notModified)
        XCTAssertEqual(evaluate(ims: lastModified), .notModified)
        XCTAssertEqual(evaluate(im: "\"nope\"", inm: etag), .failed)
        XCTAssertEqual(evaluate(ius: "Thu, 01 Jan 1970 00:00:01 GMT", ims: lastModified), .failed)
        XCTAssertEqual(evaluate(im: etag, inm: etag), .notModified)
        XCTAssertEqual(evaluate(im: etag, inm: "\"other\""), .proceed)
    }

    /// If-Modified-Since in the obsolete date forms counts (RFC 9110 §5.6.7: a recipient must
    /// accept them).
    func testIfModifiedSinceInObsoleteForms() {
        XCTAssertTrue(notModified(ims: "Sunday, 09-Sep-01 01:46:40 GMT"), "RFC 850")
        XCTAssertTrue(notModified(ims: "Sun Sep  9 01:46:40 2001"), "asctime")
        XCTAssertFalse(notModified(ims: "Sunday, 06-Nov-94 08:49:37 GMT"))
        XCTAssertFalse(notModified(ims: "Sun Nov  6 08:49:37 1994"))
    }

    func range(_ header: String?, ifRange: String? = nil, size: Int = 1242) -> ConditionalRequest.RangeResult {
        ConditionalRequest.range(header, ifRange: ifRange, size: size, etag: etag, lastModified: lastModified)
    }

    func testRangesTable() {
        let cases: [(String?, Int, ConditionalRequest.RangeResult)] = [
            (nil, 1242, .full),
            ("bytes=0-9", 1242, .partial(offset: 0, count: 10)),
            ("bytes=0-0", 1242, .partial(offset: 0, count: 1)),
            ("bytes=10-", 1242, .partial(offset: 10, count: 1232)),
            ("bytes=-5", 1242, .partial(offset: 1237, count: 5)),
            ("bytes=-5000", 1242, .partial(offset: 0, count: 1242)),
            ("bytes=1000-999999", 1242, .partial(offset: 1000, count: 242)),
            ("bytes=1241-1241", 1242, .partial(offset: 1241, count: 1)),
            ("bytes= 2-3 ", 1242, .partial(offset: 2, count: 2)),
            ("bytes=1242-", 1242, .unsatisfiable),
            ("bytes=999999-", 1242, .unsatisfiable),
            ("bytes=-0", 1242, .unsatisfiable),
            ("bytes=0-", 0, .unsatisfiable),
            ("bytes=-5", 0, .full),  // a suffix range is satisfiable (RFC 9110 §14.1.1): the whole, empty file
            ("bytes=0-1,5-6", 1242, .full),
            ("bytes=9-5", 1242, .full),
            ("bytes=-", 1242, .full),
            ("bytes=a-b", 1242, .full),
            ("bytes=5", 1242, .full),
            ("items=0-9", 1242, .full),
            ("Bytes=0-4", 1242, .partial(offset: 0, count: 5)),  // the unit is case-insensitive
            ("BYTES=-2", 1242, .partial(offset: 1240, count: 2)),
            ("bytes 0-4", 1242, .full),
            ("bytex=0-4", 1242, .full),
            ("byte=0-4", 1242, .full),
            ("", 1242, .full),
        ]
        for (header, size, expected) in cases {
            XCTAssertEqual(range(header, size: size), expected, "\(header ?? "nil") on \(size)")
        }
    }

    func testIfRange() {
        XCTAssertEqual(range("bytes=0-9", ifRange: etag), .partial(offset: 0, count: 10))
        XCTAssertEqual(range("bytes=0-9", ifRange: lastModified), .partial(offset: 0, count: 10))
        XCTAssertEqual(range("bytes=0-9", ifRange: "\"stale\""), .full)
        XCTAssertEqual(range("bytes=0-9", ifRange: "Sun, 06 Nov 1994 08:49:37 GMT"), .full)
        XCTAssertEqual(range("bytes=999999-", ifRange: "\"stale\""), .full, "a stale If-Range means the whole file, not 416")
    }
}
