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

    func testAnAnswerBeforeTheBodyEndsKeepsTheBodyDeadlineThenIdles() {
        // body 500 ms, keepalive 2000 ms. An upstream answered at 100 ms; the body goes on.
        var t = machine()
        t.bytesRead(now: 0)
        t.headComplete(hasBody: true, now: 0)
        t.answeredBeforeRequestEnd()
        XCTAssertEqual(t.deadline?.kind, .body, "the rest of the body is still timed as a body")
        t.bytesRead(now: 300 * ms)
        XCTAssertEqual(t.deadline?.at, 800 * ms, "each read moves it, as for any body")
        XCTAssertNil(t.readPause(now: 900 * ms), "body bytes are not paced as a slow head")
        XCTAssertEqual(t.check(now: 800 * ms), .close(.body), "a client that stops sending the body is closed")
        t.requestComplete(now: 700 * ms)
        XCTAssertEqual(t.phase, .idle(since: 700 * ms, spoke: true), "answered already: idle between requests")
        XCTAssertEqual(t.check(now: 2700 * ms), .close(.keepalive))
        t.bytesRead(now: 1000 * ms)
        XCTAssertEqual(t.deadline?.kind, .header, "the next request has a head deadline")
        // And the usual order is unchanged.
        t.headComplete(hasBody: true, now: 1100 * ms)
        t.requestComplete(now: 1200 * ms)
        XCTAssertEqual(t.phase, .responding)
        t.responseComplete(now: 1300 * ms)
        XCTAssertEqual(t.phase, .idle(since: 1300 * ms, spoke: true))
    }

    /// An earlier request's answer that completes while the next request's body is read (pipelined)
    /// leaves that body's deadline, and the next request is answered as usual.
    func testAnEarlierAnswerCompletingDuringTheNextBodyLeavesItsDeadline() {
        var t = machine()
        t.bytesRead(now: 0)
        t.headComplete(hasBody: false, now: 0)
        t.requestComplete(now: 0)
        t.headComplete(hasBody: true, now: 10 * ms)  // the next request, pipelined
        t.responseComplete(now: 50 * ms)  // the first one's answer is out
        XCTAssertEqual(t.phase, .body(lastRead: 10 * ms))
        t.requestComplete(now: 60 * ms)
        XCTAssertEqual(t.phase, .responding, "its answer is still to come: not idle")
        t.responseComplete(now: 90 * ms)
        XCTAssertEqual(t.phase, .idle(since: 90 * ms, spoke: true))
    }

    /// While reads are held because a proxied request's upstream cannot take more of the body,
    /// the client is waiting for us: no body deadline. It starts again when reads resume.
    func testABodyHeldForTheUpstreamHasNoDeadlineUntilReadsResume() {
        var t = machine()  // body 500 ms
        t.bytesRead(now: 0)
        t.headComplete(hasBody: true, now: 0)
        t.bytesRead(now: 100 * ms)
        t.bodyHeld(true, now: 200 * ms)
        XCTAssertNil(t.deadline, "the upstream's timeout bounds the wait, not body_ms")
        XCTAssertEqual(t.check(now: 60_000 * ms), .none)
        t.bytesRead(now: 250 * ms)  // a read already under way when the hold began
        t.bodyHeld(true, now: 5000 * ms)
        XCTAssertNil(t.deadline, "still held")
        t.bodyHeld(false, now: 10_000 * ms)
        XCTAssertEqual(t.deadline?.at, 10_500 * ms, "from when reads resumed, not from the last read")
        XCTAssertEqual(t.deadline?.kind, .body)
        XCTAssertEqual(t.check(now: 10_499 * ms), .none)
        XCTAssertEqual(t.check(now: 10_500 * ms), .close(.body), "a client that then sends nothing is timed as usual")
        t.bodyHeld(false, now: 11_000 * ms)
        XCTAssertEqual(t.deadline?.at, 10_500 * ms, "no hold to end: nothing moves")
    }

    /// A client that does not read our answer either while its body is held has `send`.
    func testAHeldBodyWhoseClientDoesNotReadHasTheSendDeadline() {
        var t = machine()  // send 300 ms
        t.headComplete(hasBody: true, now: 0)
        t.bodyHeld(true, now: 100 * ms)
        t.writabilityChanged(writable: false, now: 200 * ms)
        XCTAssertEqual(t.deadline?.at, 500 * ms)
        XCTAssertEqual(t.check(now: 500 * ms), .close(.send))
        t.writabilityChanged(writable: true, now: 300 * ms)
        XCTAssertNil(t.deadline)
    }

    /// A hold belongs to the body being read: the next request's body is timed from its head,
    /// and holds outside a body change nothing.
    func testAHoldEndsWithItsRequest() {
        var t = machine()
        t.headComplete(hasBody: true, now: 0)
        t.bodyHeld(true, now: 100 * ms)
        t.requestComplete(now: 200 * ms)
        XCTAssertEqual(t.phase, .responding)
        XCTAssertNil(t.deadline)
        t.responseComplete(now: 300 * ms)
        XCTAssertEqual(t.deadline?.kind, .keepalive, "idle between requests as usual")
        t.bytesRead(now: 400 * ms)
        t.headComplete(hasBody: true, now: 450 * ms)
        XCTAssertFalse(t.isBodyHeld)
        XCTAssertEqual(t.deadline?.at, 950 * ms, "the next body has its deadline")
        t.bodyHeld(false, now: 600 * ms)
        XCTAssertEqual(t.deadline?.at, 950 * ms)
    }

    /// A connection that closes once its writes are out gets `send` for them, whatever comes in.
    func testClosingHasTheSendDeadline() {
        var t = machine()
        t.bytesRead(now: 0)
        t.headComplete(hasBody: true, now: 0)
        t.closing(now: 100 * ms)
        XCTAssertEqual(t.deadline?.at, 400 * ms)
        t.bytesRead(now: 200 * ms)
        t.requestComplete(now: 250 * ms)
        t.responseComplete(now: 260 * ms)
        t.headComplete(hasBody: false, now: 270 * ms)
        XCTAssertEqual(t.phase, .closing(since: 100 * ms), "nothing moves it")
        XCTAssertEqual(t.check(now: 400 * ms), .close(.send))
    }

    /// A client that takes what is written, however slowly, moves the send deadline on: `send` is
    /// how long it may take nothing, not how long the transfer may last.
    func testWriteProgressMovesTheSendDeadline() {
        var t = machine()  // send 300 ms
        t.bytesRead(now: 0)
        t.headComplete(hasBody: false, now: 0)
        t.writabilityChanged(writable: false, now: 100 * ms)
        t.writeProgress(now: 350 * ms)
        XCTAssertEqual(t.check(now: 400 * ms), .none, "it took some at 350 ms")
        XCTAssertEqual(t.deadline?.at, 650 * ms)
        t.closing(now: 700 * ms)
        t.writeProgress(now: 900 * ms)
        XCTAssertEqual(t.deadline?.at, 1200 * ms, "a closing connection's writes likewise")
        var writable = machine()
        writable.headComplete(hasBody: false, now: 0)
        writable.writeProgress(now: 10 * ms)
        XCTAssertNil(writable.deadline, "nothing to time while the client takes everything")
    }

    /// A pause that ends at the deadline holds bytes that arrived in time: they are read before
    /// the deadline is acted on. A trickled head still gets its answer at the deadline: one read
    /// (no pause past it), then the verdict.
    func testBytesHeldByAPauseAreReadBeforeTheDeadline() {
        for respond408 in [true, false] {
            let settings = ConnectionTimeouts.Settings(headerMs: 2000, bodyMs: 500, keepaliveMs: 2000, sendMs: 300, respond408: respond408)
            var t = ConnectionTimeouts(settings: settings, now: 0)
            t.bytesRead(now: 0)
            XCTAssertNil(t.readPause(now: 0))
            t.bytesRead(now: 1100 * ms)
            XCTAssertEqual(t.readPause(now: 1100 * ms), 2000 * ms, "paced: the pause ends at the deadline")
            // The rest of the head arrived at 1200 ms and waits, unread, for the pause's end.
            XCTAssertEqual(t.check(now: 1999 * ms, readHeld: true), .none)
            XCTAssertEqual(t.check(now: 2000 * ms, readHeld: true), .readFirst, "read what arrived in time first")
            t.bytesRead(now: 2000 * ms)
            t.headComplete(hasBody: false, now: 2000 * ms)
            XCTAssertEqual(t.check(now: 2010 * ms), .none, "the head was in time: no 408, no close")

            var slow = ConnectionTimeouts(settings: settings, now: 0)
            slow.bytesRead(now: 0)
            slow.bytesRead(now: 1100 * ms)
            XCTAssertEqual(slow.check(now: 2000 * ms, readHeld: true), .readFirst)
            slow.bytesRead(now: 2001 * ms)  // more of a head that is still incomplete
            XCTAssertNil(slow.readPause(now: 2001 * ms), "no pause past the deadline: nothing held any more")
            XCTAssertEqual(slow.check(now: 2010 * ms, readHeld: false), respond408 ? .respond408AndClose : .close(.header))
        }
    }

    func testSlowHeadReadsArePacedWithoutMovingTheDeadline() {
        // header 1000 ms; pacing after 500 ms of head, once per 1000 ms (defaults), capped at the deadline.
        var t = machine()
        XCTAssertNil(t.readPause(now: 0), "nothing arrived: nothing to pace")
        t.bytesRead(now: 100 * ms)
        XCTAssertNil(t.readPause(now: 100 * ms), "a head's first bytes are read as they come")
        XCTAssertNil(t.readPause(now: 599 * ms))
        XCTAssertEqual(t.readPause(now: 600 * ms), 1100 * ms, "paced from 0.5 s on, never past the deadline")
        t.bytesRead(now: 600 * ms)
        XCTAssertEqual(t.deadline?.at, 1100 * ms, "the deadline is unchanged")

        var long = ConnectionTimeouts(settings: .init(headerMs: 10_000, bodyMs: 500, keepaliveMs: 2000, sendMs: 300, respond408: true), now: 0)
        long.bytesRead(now: 0)
        XCTAssertEqual(long.readPause(now: 700 * ms), 1700 * ms, "at least a second between reads")
        XCTAssertEqual(long.readPause(now: 3000 * ms), 6000 * ms, "as long again as the head has taken")
        XCTAssertEqual(long.readPause(now: 7000 * ms), 10_000 * ms, "never past the deadline")
        XCTAssertNil(long.readPause(now: 10_000 * ms), "nor once it has come (the last read before the verdict)")
        let jittered = ConnectionTimeouts(settings: long.settings, now: 0, paceJitter: 123 * ms)
        var j = jittered
        j.bytesRead(now: 0)
        XCTAssertEqual(j.readPause(now: 700 * ms), 1823 * ms, "the connection's jitter keeps slow connections out of step")
        long.headComplete(hasBody: true, now: 800 * ms)
        XCTAssertNil(long.readPause(now: 900 * ms), "bodies are not paced (body_ms covers them)")
        long.requestComplete(now: 1000 * ms)
        long.responseComplete(now: 1000 * ms)
        XCTAssertNil(long.readPause(now: 1000 * ms), "nor idle keep-alive connections")

        let custom = ConnectionTimeouts.Settings(headerMs: 5000, bodyMs: 1, keepaliveMs: 1, sendMs: 1, respond408: true,
                                                 slowHeadAfterMs: 50, slowHeadIntervalMs: 200)
        var c = ConnectionTimeouts(settings: custom, now: 0)
        c.bytesRead(now: 0)
        XCTAssertEqual(c.readPause(now: 50 * ms), 250 * ms)
    }
}
