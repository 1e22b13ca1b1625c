import ControlProtocol
import Foundation
import Synchronization
import XCTest

@testable import ServerCore
import TestSupport

/// Draining an upstream under load, in-process: concurrent clients, two fake upstreams, the
/// drain sent over the control socket. No request fails; after the drain is acknowledged no new
/// request goes to the drained upstream; it reports `draining` while its in-flight requests
/// (held by the fake) are outstanding and `drained` once they are done; the state survives a
/// restart on the same state db.
final class ProxyDrainTests: DaemonTestCase {
    var upstreams: [FakeUpstream] = []
    var load: LoadGenerator?
    var port = 0

    override func tearDown() {
        _ = load?.stop()
        super.tearDown()
        for u in upstreams { u.stop() }
    }

    func startProxyDaemon() throws {
        upstreams = [try FakeUpstream(id: "a"), try FakeUpstream(id: "b")]
        port = freePort()
        try writeConfig(proxyConfigJSON(port: port, upstreams: upstreams.map(\.address)))
        daemon = try makeDaemon()
    }

    func list() throws -> [UpstreamInfo] {
        let r = try control("GET", Endpoint.upstreams)
        XCTAssertEqual(r.status, 200, r.text)
        return try r.json(UpstreamListResponse.self).upstreams
    }

    func info(_ u: FakeUpstream) throws -> UpstreamInfo { try XCTUnwrap(list().first { $0.address == u.address }) }

    func post(_ path: String, _ address: String, reason: String? = nil) throws -> HTTPResult {
        let body = try JSONEncoder().encode(UpstreamAdminRequest(address: address, reason: reason))
        return try control("POST", path, body: String(decoding: body, as: UTF8.self))
    }

    func testDrainUnderLoadLosesNothingAndStopsNewRequests() throws {
        try startProxyDaemon()
        let (a, b) = (upstreams[0], upstreams[1])
        // Requests for /held/... wait at "a" until released: in-flight requests that must finish.
        a.behavior.holdPrefix = "/held"
        let heldThreads = 4
        let generator = LoadGenerator(port: port, paths: (0..<heldThreads).map { "/held/\($0)" } + (0..<4).map { "/fast/\($0)" })
        load = generator
        generator.start()
        XCTAssertTrue(pollUntil(timeout: 15) { a.counters.held == heldThreads && b.requests >= 20 },
                      "every /held client waits at a while the others keep going: \(a.counters), b \(b.requests)")

        let ack = try post(Endpoint.upstreamDrain, a.address, reason: "deploy")
        XCTAssertEqual(ack.status, 200, ack.text)
        let change = try ack.json(UpstreamChangeResponse.self)
        XCTAssertEqual(change.admin, "draining")
        XCTAssertGreaterThanOrEqual(change.inFlight, heldThreads, "the held requests are in flight")
        let requestsAtAck = try info(a).requests

        // Still draining while they are held; the load goes on, all of it to b.
        let bAtAck = b.requests
        XCTAssertTrue(pollUntil(timeout: 15) { b.requests >= bAtAck + 20 })
        XCTAssertEqual(try info(a).state, "draining")
        XCTAssertEqual(try info(a).inFlight, heldThreads)

        a.release()
        XCTAssertTrue(pollUntil(timeout: 15) { (try? info(a).state) == "drained" }, "drained once the held requests are done")
        XCTAssertEqual(a.counters.active, 0, "drained is reported only after a's answers are complete")
        let arrivalsAtDrained = a.requests
        let bAtDrained = b.requests
        XCTAssertTrue(pollUntil(timeout: 15) { b.requests >= bAtDrained + 40 }, "the load goes on")

        XCTAssertTrue(generator.stop())
        let tally = generator.snapshot
        XCTAssertEqual(tally.failures, [], "no client saw an error")
        XCTAssertGreaterThan(tally.byID["b"] ?? 0, 80)
        XCTAssertEqual(a.requests, arrivalsAtDrained, "nothing reached a after it was drained")
        // One pick on the (single) event loop may have raced with the acknowledgement.
        XCTAssertLessThanOrEqual(try info(a).requests - requestsAtAck, 1, "no new request went to a after the ack")
        XCTAssertEqual(a.counters.completed, a.requests, "every request that reached a was answered")

        let audit = try control("GET", Endpoint.audit).json(AuditResponse.self).entries
        XCTAssertEqual(audit.map(\.action), ["upstream drain"])
        XCTAssertEqual(audit.first?.arguments, a.address)
        XCTAssertEqual(audit.first?.reason, "deploy")
    }

    func testDrainSurvivesARestartAndEnableUndoesIt() throws {
        try startProxyDaemon()
        let (a, b) = (upstreams[0], upstreams[1])
        XCTAssertEqual(try post(Endpoint.upstreamDrain, a.address).status, 200)
        XCTAssertEqual(try info(a).state, "drained", "nothing was in flight")

        daemon?.shutdown(grace: .zero)
        daemon = nil
        daemon = try makeDaemon()
        XCTAssertEqual(try info(a).state, "drained", "restored from the state db")
        XCTAssertEqual(try info(b).state, "active")
        for _ in 0..<4 { XCTAssertEqual(try get("/x").header("X-Upstream-Id"), "b") }
        XCTAssertEqual(a.requests, 0)

        XCTAssertEqual(try post(Endpoint.upstreamEnable, a.address).status, 200)
        XCTAssertEqual(Set(try (0..<4).map { _ in try get("/y").header("X-Upstream-Id") }), ["a", "b"])
        XCTAssertEqual(try control("GET", Endpoint.audit).json(AuditResponse.self).entries.map(\.action),
                       ["upstream drain", "upstream enable"])
    }

    /// The effective weight is what new requests see now: 0 while draining, disabled or weighted
    /// 0 (the configured weight is listed beside it), the operator's weight or the config's
    /// otherwise; Prometheus' `expserver_upstream_available` agrees.
    func testEffectiveWeightAndAvailabilityFollowTheState() throws {
        try startProxyDaemon()
        let a = upstreams[0]
        func available() throws -> String? {
            let text = try control("GET", Endpoint.metrics).text
            let prefix = "expserver_upstream_available{upstream=\"\(a.address)\"} "
            return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        }
        func weights() throws -> [Int] { let i = try info(a); return [i.configuredWeight, i.effectiveWeight] }
        XCTAssertEqual(try weights(), [1, 1])
        XCTAssertEqual(try available(), "1")
        let weight = try JSONEncoder().encode(UpstreamWeightRequest(address: a.address, weight: 3))
        XCTAssertEqual(try control("POST", Endpoint.upstreamWeight, body: String(decoding: weight, as: UTF8.self)).status, 200)
        XCTAssertEqual(try weights(), [1, 3])
        for (path, state) in [(Endpoint.upstreamDrain, "drained"), (Endpoint.upstreamDisable, "disabled")] {
            XCTAssertEqual(try post(path, a.address).status, 200)
            XCTAssertEqual(try info(a).state, state)
            XCTAssertEqual(try weights(), [1, 0], state)
            XCTAssertEqual(try available(), "0", state)
            XCTAssertEqual(try post(Endpoint.upstreamEnable, a.address).status, 200)
            XCTAssertEqual(try weights(), [1, 3], "the operator's weight again once enabled")
            XCTAssertEqual(try available(), "1")
        }
        let zero = try JSONEncoder().encode(UpstreamWeightRequest(address: a.address, weight: 0))
        XCTAssertEqual(try control("POST", Endpoint.upstreamWeight, body: String(decoding: zero, as: UTF8.self)).status, 200)
        XCTAssertEqual(try info(a).state, "active")
        XCTAssertEqual(try weights(), [1, 0])
        XCTAssertEqual(try available(), "0", "weight 0 takes no new requests")
    }

    /// An address is the upstream however it is spelled (a name's case; the daemon answers with
    /// its own spelling, which `upstream list` shows).
    func testAnotherSpellingOfAnAddressIsTheSameUpstream() throws {
        try startProxyDaemon()
        let a = upstreams[0]
        // A name: the fakes listen on 127.0.0.1, so a config naming "LOCALHOST:port" reaches them.
        let port = a.address.split(separator: ":").last!
        try writeConfig(proxyConfigJSON(port: self.port, upstreams: ["LOCALHOST:\(port)", upstreams[1].address]))
        XCTAssertEqual(try control("POST", Endpoint.reload).status, 200)
        let names = try list().map(\.address)
        XCTAssertTrue(names.contains("localhost:\(port)"), "\(names)")
        let ack = try post(Endpoint.upstreamDrain, "LocalHost:\(port)")
        XCTAssertEqual(ack.status, 200, ack.text)
        XCTAssertEqual(try ack.json(UpstreamChangeResponse.self).address, "localhost:\(port)")
        XCTAssertEqual(try XCTUnwrap(list().first { $0.address == "localhost:\(port)" }).state, "drained")
    }

    /// A change to an address no route lists is a 404, nothing changes, and the failure is
    /// audited (`error: not_found`).
    func testUnknownAddressIsAnErrorAndAuditedAsOne() throws {
        try startProxyDaemon()
        for path in [Endpoint.upstreamDrain, Endpoint.upstreamEnable, Endpoint.upstreamDisable] {
            assertError(try post(path, "127.0.0.1:1"), status: 404, code: "not_found", contains: "127.0.0.1:1")
            // The message lists the names the routes use.
            assertError(try post(path, "127.0.0.1:1"), status: 404, code: "not_found",
                        contains: "(upstreams are named as in the config: \(upstreams[0].address), \(upstreams[1].address))")
        }
        let weight = try JSONEncoder().encode(UpstreamWeightRequest(address: "10.9.9.9:80", weight: 3))
        assertError(try control("POST", Endpoint.upstreamWeight, body: String(decoding: weight, as: UTF8.self)),
                    status: 404, code: "not_found", contains: "10.9.9.9:80")
        let audit = try control("GET", Endpoint.audit).json(AuditResponse.self).entries
        XCTAssertEqual(audit.map(\.action), ["upstream drain", "upstream drain", "upstream enable", "upstream enable",
                                              "upstream disable", "upstream disable", "upstream weight"])
        XCTAssertEqual(audit.map(\.arguments), ["127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1", "10.9.9.9:80 3"])
        XCTAssertEqual(Set(audit.map(\.result)), ["error: not_found"])
    }

    func get(_ path: String) throws -> HTTPResult {
        let client = try RawClient(port: port)
        try client.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return try client.readResponse()
    }

    /// Changes sent at the same moment are applied one at a time: neither is lost, and what is
    /// stored is what is in effect.
    func testChangesAtTheSameMomentAreAllKeptAndStoredAsApplied() throws {
        try startProxyDaemon()
        let a = upstreams[0]
        let d = try XCTUnwrap(daemon)
        let state = try XCTUnwrap(d.config.upstreams.lookup(a.address))
        for round in 0..<30 {
            let weight = String(decoding: try JSONEncoder().encode(UpstreamWeightRequest(address: a.address, weight: round % 3)), as: UTF8.self)
            let admin = round % 2 == 0 ? Endpoint.upstreamDrain : Endpoint.upstreamEnable
            let drainOrEnable = String(decoding: try JSONEncoder().encode(UpstreamAdminRequest(address: a.address)), as: UTF8.self)
            let requests = [(Endpoint.upstreamWeight, weight), (admin, drainOrEnable)]
            let socket = socketPath
            let statuses = Mutex<[Int]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                let r = try? UnixClient.exchange(socket, "POST", requests[i].0, body: Array(requests[i].1.utf8))
                statuses.withLock { $0.append(r?.status ?? 0) }
            }
            XCTAssertEqual(statuses.withLock { $0 }, [200, 200])
            XCTAssertEqual(state.weightOverride, round % 3, "round \(round): the weight change is in effect")
            XCTAssertEqual(state.admin, round % 2 == 0 ? .draining : .active, "round \(round): the admin change is in effect")
            let stored = try XCTUnwrap(d.store.upstreamStates().first { $0.address == a.address })
            XCTAssertEqual(stored.weight, state.weightOverride, "round \(round)")
            XCTAssertEqual(stored.admin, state.admin, "round \(round)")
        }
    }

}
