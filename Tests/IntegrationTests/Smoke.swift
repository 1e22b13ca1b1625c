import XCTest
final class IntegrationTestsSmoke: XCTestCase { func testNothing() {} }
