import ControlProtocol
import Foundation
import XCTest
import TestSupport

/// `POST /v1/reload`: a good config is swapped in (listeners added and removed); a bad one is
/// refused with an error body and the old config keeps serving.
final class ControlReloadTests: DaemonTestCase {
    func testGoodConfigAddsAndRemovesListeners() throws {
        let (kept, removed, added) = (freePort(), freePort(), freePort())
        try startDaemon(ports: [kept, removed])
        XCTAssertEqual(try getHello(port: removed).status, 200)

        try writeConfig(configJSON(ports: [kept, added]))
        let r = try control("POST", Endpoint.reload, body: #"{"reason":"move a port"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        let reply = try r.json(ReloadResponse.self)
        XCTAssertEqual(reply.configPath, configPath)
        XCTAssertEqual(reply.listeners, ["127.0.0.1:\(kept)", "127.0.0.1:\(added)"])
        XCTAssertEqual(reply.reloads, 1)

        let served = try getHello(port: added)
        XCTAssertEqual(served.status, 200)
        XCTAssertEqual(served.text, Self.helloText)
        XCTAssertEqual(try getHello(port: kept).status, 200)
        XCTAssertThrowsError(try RawClient(port: removed), "the removed listener is closed")
        XCTAssertEqual(daemon?.status().listeners, reply.listeners)
        XCTAssertEqual(daemon?.status().reloads, 1)
    }

    func testReloadWithoutBodyWorks() throws {
        try startDaemon(ports: [freePort()])
        let r = try UnixClient.exchange(socketPath, "POST", Endpoint.reload)
        XCTAssertEqual(r.status, 200, r.text)
    }

    func testBadConfigIsRefusedAndTheOldOneKeepsServing() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        let before = try XCTUnwrap(daemon).config

        try writeConfig(configJSON(ports: [port]).replacingOccurrences(of: "\"workers\": 1,", with: "\"workers\": 1, \"bogus_key\": true,"))
        let r = try control("POST", Endpoint.reload)
        assertError(r, status: 422, code: "invalid_config", contains: "bogus_key")
        XCTAssertTrue(try r.json(ControlErrorBody.self).error.message.contains("still running the old"), r.text)

        try writeConfig("{ this is not json")
        assertError(try control("POST", Endpoint.reload), status: 422, code: "invalid_config", contains: "not valid JSON")

        XCTAssertTrue(try XCTUnwrap(daemon).config === before, "the running config is untouched")
        XCTAssertEqual(daemon?.status().reloads, 0)
        let served = try getHello(port: port)
        XCTAssertEqual(served.status, 200)
        XCTAssertEqual(served.text, Self.helloText)
    }

    func testUnbindableNewListenerChangesNothing() throws {
        let (port, busy) = (freePort(), freePort())
        try startDaemon(ports: [port])
        let holder = try ListeningSocket(port: busy)
        try writeConfig(configJSON(ports: [busy]))
        assertError(try control("POST", Endpoint.reload), status: 422, code: "invalid_config", contains: "\(busy)")
        XCTAssertEqual(daemon?.status().listeners, ["127.0.0.1:\(port)"])
        XCTAssertEqual(try getHello(port: port).status, 200, "the old listener was not closed")
        _ = holder
    }
}

/// Holds a 127.0.0.1 port in LISTEN state so the daemon cannot bind it.
final class ListeningSocket {
    let fd: CInt
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0, listen(fd, 4) == 0 else { close(fd); throw TestError("cannot hold port \(port): \(errno)") }
    }
    deinit { close(fd) }
}
