@testable import ServerCore
import XCTest

/// `RequestValidator.hostAgrees`: an absolute-form target and Host must name one authority.
final class RequestValidatorTests: XCTestCase {
    func agrees(_ target: String, _ host: String?) -> Bool {
        target.hasPrefix("/") || RequestValidator.hostAgrees(target: target, host: host)
    }

    func testOriginFormAlwaysAgrees() {
        XCTAssertTrue(agrees("/x", "a.test"))
        XCTAssertTrue(agrees("/x", nil))
    }

    func testSameAuthority() {
        XCTAssertTrue(agrees("http://a.test/x", "a.test"))
        XCTAssertTrue(agrees("http://A.Test/x", "a.TEST"))
        XCTAssertTrue(agrees("http://a.test:8080/x", "a.test:8080"))
        XCTAssertTrue(agrees("http://a.test", "a.test"))
        XCTAssertTrue(agrees("http://a.test?q", "a.test"))
        XCTAssertTrue(agrees("http://[::1]:8080/x", "[::1]:8080"))
        XCTAssertTrue(agrees("http://127.0.0.1/x", "127.0.0.1"))
    }

    func testDefaultPortOfTheScheme() {
        XCTAssertTrue(agrees("http://a.test:80/x", "a.test"))
        XCTAssertTrue(agrees("http://a.test/x", "a.test:80"))
        XCTAssertTrue(agrees("HTTPS://a.test/x", "a.test:443"))
        XCTAssertTrue(agrees("http://a.test:/x", "a.test"))
        XCTAssertFalse(agrees("https://a.test/x", "a.test:80"))
        XCTAssertFalse(agrees("ftp://a.test/x", "a.test:21"))
    }

    func testOtherAuthorityOrNoneDisagrees() {
        XCTAssertFalse(agrees("http://b.test/x", "a.test"))
        XCTAssertFalse(agrees("http://a.test/x", nil))
        XCTAssertFalse(agrees("http://a.test/x", ""))
        XCTAssertFalse(agrees("http://a.test:8080/x", "a.test"))
        XCTAssertFalse(agrees("http://a.test/x", "a.test:8080"))
        XCTAssertFalse(agrees("http://a.test.evil/x", "a.test"))
        XCTAssertFalse(agrees("http://[::1]/x", "[::2]"))
        XCTAssertFalse(agrees("http://[::1]:80/x", "::1"))
    }
}
