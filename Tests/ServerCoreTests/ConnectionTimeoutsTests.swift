import XCTest

@testable import ServerCore

/// The timeout state machine with a fake clock (milliseconds → nanoseconds).
final class ConnectionTimeoutsTests: XCTestCase {
    let ms: Int64 = 1_000_000
    func machine(respond408: Bool = true) -> ConnectionTimeouts {
        ConnectionTimeouts(
            settings: .init(headerMs: 1000, bodyMs: 500, keepaliveMs: 2000, sendMs: 300, respond408: respond408), now: 0)
    }

    func testNeverSpokeClosesSilentlyAfterHeaderTimeout() {
        let t = machine()
        XCTAssertEqual(t.check(now: 999 * ms), .none)
        XCTAssertEqual(t.check(now: 1000 * ms), .close(.neverSpoke))
    }

    func testTricklingCannotExtendTheHeadDeadline() {
        var t = machine()
        t.bytesRead(now: 100 * ms)
        for i in 1..<20 { t.bytesRead(now: Int64(100 + i * 50) * ms) }  // a byte every 50 ms
        XCTAssertEqual(t.deadline?.at, 1100 * ms, "fixed at the first byte + header")
        XCTAssertEqual(t.check(now: 1099 * ms), .none)
        XCTAssertEqual(t.check(now: 1100 * ms), .respond408AndClose)
        XCTAssertEqual(machineWith408(false, afterBytes: true).check(now: 1100 * ms), .close(.header), "eXpServer default: silent")
    }

    func machineWith408(_ on: Bool, afterBytes: Bool) -> ConnectionTimeouts {
        var t = machine(respond408: on)
        if afterBytes { t.bytesRead(now: 100 * ms) }
        return t
    }

    func testBodyInactivityResetsOnEachRead() {
        var t = machine()
        t.bytesRead(now: 0)
        t.headComplete(hasBody: true, now: 10 * ms)
        t.bytesRead(now: 400 * ms)
        XCTAssertEqual(t.check(now: 899 * ms), .none)
        XCTAssertEqual(t.check(now: 900 * ms), .close(.body))
    }

    func testNoClientDeadlineWhileRespondingAndWritable() {
        var t = machine()
        t.bytesRead(now: 0)
        t.headComplete(hasBody: false, now: 1 * ms)
        XCTAssertNil(t.deadline)
        XCTAssertEqual(t.check(now: 1_000_000 * ms), .none, "a slow upstream is the upstream timeouts' business")
    }

    func testSendTimeoutWhileTheClientDoesNotRead() {
        var t = machine()
        t.bytesRead(now: 0)
        t.headComplete(hasBody: false, now: 0)
        t.writabilityChanged(writable: false, now: 100 * ms)
        t.writabilityChanged(writable: false, now: 200 * ms)  // still unwritable: the clock keeps its start
        XCTAssertEqual(t.check(now: 399 * ms), .none)
        XCTAssertEqual(t.check(now: 400 * ms), .close(.send))
        t.writabilityChanged(writable: true, now: 350 * ms)
        XCTAssertNil(t.deadline)
    }

    func testKeepAliveIdleAfterAResponse() {
        var t = machine()
        t.bytesRead(now: 0)
        t.headComplete(hasBody: false, now: 0)
        t.responseComplete(now: 100 * ms)
        XCTAssertEqual(t.deadline?.kind, .keepalive)
        XCTAssertEqual(t.check(now: 2099 * ms), .none)
        XCTAssertEqual(t.check(now: 2100 * ms), .close(.keepalive))
        // The next request starts a new head deadline.
        t.bytesRead(now: 2000 * ms)
        XCTAssertEqual(t.deadline?.kind, .header)
        XCTAssertEqual(t.deadline?.at, 3000 * ms)
    }
}
