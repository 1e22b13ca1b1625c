import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// Upstream failures: a refused connection is retried on the next upstream (no client error) and
/// counted toward passive health; 502 when every upstream fails (or with `retries: 0`, compat
/// L4); an idempotent request whose upstream does not answer within `upstream_read_ms` goes to
/// the next, 504 when none answers in time (or the request is not idempotent).
final class ProxyFailureTests: ProxyTestCase {
    /// An address nothing listens on (a port that was free a moment ago).
    func deadAddress() -> String { "127.0.0.1:\(freePort())" }

    func state(_ s: TestServer, _ address: String) throws -> UpstreamState {
        try XCTUnwrap(s.server.state.current.config.upstreams.lookup(address))
    }

    func testDeadUpstreamIsSkippedWithNoClientError() throws {
        let ups = try fakes("a", "b")
        let dead = deadAddress()
        let s = try startServer(proxyConfig(["\"\(dead)\"", quoted(ups[0]), quoted(ups[1])]))
        let seen = try ids(s, 10)
        XCTAssertEqual(Set(seen), ["a", "b"])
        XCTAssertEqual(ups[0].requests + ups[1].requests, 10)
        let st = try state(s, dead)
        XCTAssertEqual(st.failures.load(ordering: .relaxed), 1, "tried once, then marked down (max_fails 1)")
        XCTAssertEqual(st.stateName(now: Date().timeIntervalSince1970), "down")
        XCTAssertEqual(st.inFlight.load(ordering: .relaxed), 0)
    }

    /// An address marked down by one route's failures is listed down (effective weight 0) for
    /// that route, and active for a route where it is the only upstream, which goes on using it.
    func testPassiveDownIsListedPerRoute() throws {
        let ups = try fakes("good")
        let dead = deadAddress()
        let s = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "reverse_proxy", "upstreams": ["\(dead)", \(quoted(ups[0]))] },
                          { "req_path": "/solo", "type": "reverse_proxy", "upstreams": ["\(dead)"] } ] } ] }
            """)
        XCTAssertEqual(try hit(s).id, "good")
        XCTAssertEqual(try state(s, dead).stateName(now: Date().timeIntervalSince1970), "down")
        let rows = UpstreamControl.list(s.server.state.current.config).filter { $0.address == dead }
        XCTAssertEqual(rows.map(\.route), ["servers[0] /", "servers[0] /solo"])
        XCTAssertEqual(rows.map(\.state), ["down", "active"])
        XCTAssertEqual(rows.map(\.effectiveWeight), [0, 1])
        XCTAssertEqual(try s.get("/solo").status, 502, "tried again there")
        XCTAssertEqual(try state(s, dead).failures.load(ordering: .relaxed), 2)
    }

    func testDeadUpstreamThatIsNeverMarkedDownIsRetriedEveryTime() throws {
        let ups = try fakes("a")
        let dead = deadAddress()
        let s = try startServer(proxyConfig([#"{ "address": "\#(dead)", "max_fails": 0 }"#, quoted(ups[0])]))
        XCTAssertEqual(try ids(s, 6), Array(repeating: "a", count: 6))
        let st = try state(s, dead)
        XCTAssertGreaterThanOrEqual(st.failures.load(ordering: .relaxed), 3, "picked about every other time, retried on a")
        XCTAssertEqual(st.stateName(now: Date().timeIntervalSince1970), "active", "max_fails 0 never marks it down")
    }

    func testAllUpstreamsDeadGives502AndTheServerStaysUp() throws {
        let dead = [deadAddress(), deadAddress()]
        let s = try startServer(proxyConfig(dead.map { "\"\($0)\"" }))
        for _ in 0..<3 {
            let r = try s.get("/x")
            XCTAssertEqual(r.status, 502)
            assertDefaultHeaders(r)
            XCTAssertNil(r.header("X-Upstream-Id"))
        }
        for address in dead { XCTAssertGreaterThanOrEqual(try state(s, address).failures.load(ordering: .relaxed), 1) }
        // The proxy's own answers count for the route too (as every other answer does).
        let routes = s.server.state.current.config.routeStats.all
        XCTAssertEqual(routes.count, 1)
        XCTAssertEqual(routes.first?.1.requests, 3, "\(routes.map(\.0))")
    }

    func testRetriesZeroAnswers502WhenTheChosenUpstreamIsDown() throws {
        // compat L4: no retry on the other upstream.
        let ups = try fakes("b")
        let s = try startServer(proxyConfig(["\"\(deadAddress())\"", quoted(ups[0])], route: #""retries": 0"#))
        XCTAssertEqual(try s.get("/").status, 502)
        XCTAssertEqual(ups[0].requests, 0, "not retried")
        XCTAssertEqual(try hit(s).id, "b", "the dead one is now down: the next request goes to b")
    }

    func testSlowUpstreamGives504() throws {
        let ups = try fakes("slow")
        ups[0].behavior.delayMs = 10_000
        let s = try startProxy(ups, top: #""timeouts": { "upstream_read_ms": 300 }"#)
        let r = try s.get("/slow")
        XCTAssertEqual(r.status, 504)
        assertDefaultHeaders(r)
        XCTAssertEqual(ups[0].requests, 1, "the request reached it")
        XCTAssertEqual(try XCTUnwrap(upstreamState(s, ups[0])).failures.load(ordering: .relaxed), 1)
        XCTAssertEqual(try XCTUnwrap(upstreamState(s, ups[0])).inFlight.load(ordering: .relaxed), 0)
    }

    func testSlowUpstreamTimesOutAndAFastOneStillAnswers() throws {
        let ups = try fakes("slow", "fast")
        ups[0].behavior.delayMs = 10_000
        let s = try startProxy(ups, route: #""retries": 0"#, top: #""timeouts": { "upstream_read_ms": 300 }"#)
        XCTAssertEqual(try s.get("/").status, 504)
        XCTAssertEqual(try hit(s).id, "fast")
        XCTAssertEqual(try hit(s).id, "fast", "the slow one counts as down after its timeout (max_fails 1)")
    }

    /// A GET whose upstream stays silent for `upstream_read_ms` goes to the next upstream (nginx's
    /// `proxy_next_upstream error timeout`): the client gets the answer, the silent one a failure.
    func testIdempotentRequestIsRetriedWhenTheUpstreamTimesOut() throws {
        let ups = try fakes("slow", "fast")
        ups[0].behavior.delayMs = 10_000
        let s = try startProxy(ups, top: #""timeouts": { "upstream_read_ms": 300 }"#)
        XCTAssertEqual(try hit(s).id, "fast")
        XCTAssertEqual(ups[0].requests, 1, "tried first")
        XCTAssertEqual(ups[1].requests, 1)
        let slow = try XCTUnwrap(upstreamState(s, ups[0]))
        XCTAssertEqual(slow.failures.load(ordering: .relaxed), 1)
        XCTAssertEqual(slow.inFlight.load(ordering: .relaxed), 0)
    }

    /// Every upstream silent: each is tried once, then 504 (the last failure was a timeout).
    func testEveryUpstreamTimingOutGives504() throws {
        let ups = try fakes("slow1", "slow2")
        for u in ups { u.behavior.delayMs = 10_000 }
        let s = try startProxy(ups, top: #""timeouts": { "upstream_read_ms": 300 }"#)
        XCTAssertEqual(try s.get("/").status, 504)
        XCTAssertEqual(ups.map(\.requests), [1, 1])
    }

    /// A POST that timed out may have been acted on: 504, not sent to another upstream.
    func testPOSTIsNotRetriedWhenTheUpstreamTimesOut() throws {
        for body in ["", "abc"] {  // with a body and without (a server each: round robin's first pick is slow)
            let ups = try fakes("slow", "fast")
            ups[0].behavior.delayMs = 10_000
            let s = try startProxy(ups, top: #""timeouts": { "upstream_read_ms": 300 }"#)
            let r = try s.request("POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            XCTAssertEqual(r.status, 504)
            XCTAssertEqual(ups[0].requests, 1)
            XCTAssertEqual(ups[1].requests, 0, "a non-idempotent request that reached an upstream is not sent twice")
        }
    }

    /// A route whose first pick is an upstream that reads the request and closes without answering.
    func hangUpFirst() throws -> (TestServer, hang: FakeUpstream, good: FakeUpstream) {
        let ups = try fakes("hang", "good")
        ups[0].behavior.hangUp = true
        let s = try startServer(proxyConfig([#"{ "address": "\#(ups[0].address)", "max_fails": 0 }"#, quoted(ups[1])]))
        return (s, ups[0], ups[1])
    }

    func testIdempotentRequestIsRetriedWhenTheUpstreamClosesWithoutAnswering() throws {
        let (s, hang, good) = try hangUpFirst()
        XCTAssertEqual(try hit(s).id, "good")
        XCTAssertEqual(hang.requests, 1)
        XCTAssertEqual(good.requests, 1)
        XCTAssertEqual(try XCTUnwrap(upstreamState(s, hang)).failures.load(ordering: .relaxed), 1)
    }

    func testPOSTWithABodyIsNotRetriedOnAnotherUpstream() throws {
        let (s, hang, good) = try hangUpFirst()
        let r = try s.request("POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        XCTAssertEqual(r.status, 502)
        XCTAssertEqual(hang.requests, 1)
        XCTAssertEqual(good.requests, 0, "a non-idempotent request that reached an upstream is not sent twice")
    }

    func testPOSTWithoutABodyIsNotRetriedOnAnotherUpstream() throws {
        let (s, hang, good) = try hangUpFirst()
        let r = try s.request("POST /action HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(r.status, 502)
        XCTAssertEqual(hang.requests, 1)
        XCTAssertEqual(good.requests, 0, "a non-idempotent request that reached an upstream is not sent twice")
    }
}
