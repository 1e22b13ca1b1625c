import XCTest
final class ControlProtocolTestsSmoke: XCTestCase { func testNothing() {} }
