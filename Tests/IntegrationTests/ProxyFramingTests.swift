import Foundation
import XCTest

@testable import ServerCore
import TestSupport

/// Response framing through the proxy: the upstream's length is kept; a close-delimited
/// (HTTP/1.0) answer reaches an HTTP/1.1 client chunked and an HTTP/1.0 client close-delimited;
/// keep-alive clients can send several proxied requests on one connection.
final class ProxyFramingTests: ProxyTestCase {
    func testCloseDelimitedUpstreamAnswerIsChunkedForHTTP11Clients() throws {
        let ups = try fakes("old", behavior: .init(bodyBytes: 300_000, closeDelimited: true))
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        try client.send("GET /f HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let (r, framing) = try client.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(framing, .chunked)
        XCTAssertNil(r.header("Content-Length"))
        XCTAssertEqual(r.header("X-Upstream-Id"), "old")
        XCTAssertEqual(r.body.count, 300_000)
        XCTAssertTrue(r.body.enumerated().allSatisfy { $0.element == FakeUpstream.pattern($0.offset) })
        // The client connection stays usable.
        ups[0].behavior = .init()
        try client.send("GET /g HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let (second, _) = try client.readResponse()
        XCTAssertEqual(second.text, "old")
        XCTAssertTrue(client.closedByPeer())
    }

    func testCloseDelimitedUpstreamAnswerIsCloseDelimitedForHTTP10Clients() throws {
        let ups = try fakes("old", behavior: .init(bodyBytes: 70_000, closeDelimited: true))
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        try client.send("GET /f HTTP/1.0\r\nHost: localhost\r\n\r\n")
        let (r, framing) = try client.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(framing, .close)
        XCTAssertNil(r.header("Transfer-Encoding"), "HTTP/1.0 has no chunked encoding")
        XCTAssertEqual(r.body.count, 70_000)
        XCTAssertTrue(r.body.enumerated().allSatisfy { $0.element == FakeUpstream.pattern($0.offset) })
    }

    func testChunkedUpstreamAnswerIsRelayed() throws {
        let ups = try fakes("chunky-upstream", behavior: .init(chunked: true))
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        try client.send("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let (r, framing) = try client.readResponse()
        XCTAssertEqual(framing, .chunked)
        XCTAssertEqual(r.text, "chunky-upstream")
        let old = try FramedClient(port: s.port)
        try old.send("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        let (r10, framing10) = try old.readResponse()
        XCTAssertEqual(framing10, .close)
        XCTAssertEqual(r10.text, "chunky-upstream")
    }

    func testContentLengthIsKept() throws {
        let ups = try fakes("sized", behavior: .init(bodyBytes: 123_457))
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        try client.send("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let (r, framing) = try client.readResponse()
        XCTAssertEqual(framing, .length)
        XCTAssertEqual(r.header("Content-Length"), "123457")
        XCTAssertEqual(r.body.count, 123_457)
    }

    func testUpstreamConnectionCloseIsRelayedAndClosesTheClient() throws {
        // As eXpServer relays it (compat C10: python's 404 carries `Connection: close`).
        let ups = try fakes("closer", behavior: .init(connectionClose: true))
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        try client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let (r, framing) = try client.readResponse()
        XCTAssertEqual(r.text, "closer")
        XCTAssertEqual(framing, .length)
        XCTAssertEqual(r.headers("Connection"), ["close"])
        XCTAssertTrue(client.closedByPeer())
        ups[0].behavior = .init()
        let again = try FramedClient(port: s.port)
        try again.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let (r2, _) = try again.readResponse()
        XCTAssertNil(r2.header("Connection"), "without it the client connection stays open")
    }

    func testKeepAliveClientMakesSeveralProxiedRequestsOnOneConnection() throws {
        let ups = try fakes("a", "b")
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        var seen: [String] = []
        for i in 0..<6 {
            try client.send("GET /r\(i) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let (r, _) = try client.readResponse()
            XCTAssertEqual(r.status, 200)
            XCTAssertNil(r.header("Connection"), "the connection stays open")
            seen.append(r.text)
        }
        XCTAssertEqual(seen, ["a", "b", "a", "b", "a", "b"])
        XCTAssertEqual(s.server.openConnections, 1)
        // The upstream connections are reused too (upstream_keepalive defaults to 32).
        XCTAssertEqual(ups.map { $0.counters.connections }, [1, 1])
    }

    func testPipelinedProxiedRequestsAreAnsweredInOrder() throws {
        let ups = try fakes("a", "b")
        ups[0].behavior.delayMs = 200  // the first answer is the slow one
        let s = try startProxy(ups)
        let client = try FramedClient(port: s.port)
        try client.send((0..<4).map { "GET /p\($0) HTTP/1.1\r\nHost: localhost\r\n\r\n" }.joined())
        let texts = try (0..<4).map { _ in try client.readResponse().response.text }
        XCTAssertEqual(texts, ["a", "b", "a", "b"])
        XCTAssertEqual(ups.flatMap { $0.seen.map(\.target) }.sorted(), ["/p0", "/p1", "/p2", "/p3"])
    }

    func testUpstreamKeepaliveZeroClosesUpstreamConnections() throws {
        let ups = try fakes("a")
        let s = try startProxy(ups, route: #""upstream_keepalive": 0"#)
        _ = try ids(s, 3)
        XCTAssertEqual(ups[0].counters.connections, 3)
    }
}
