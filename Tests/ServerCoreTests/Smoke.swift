import XCTest
final class ServerCoreTestsSmoke: XCTestCase { func testNothing() {} }
