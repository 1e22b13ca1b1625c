import ControlProtocol
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// An in-process daemon for global access-list tests: one listener on a free 127.0.0.1 port, an
/// optional top-level `acl` block and routes, the control socket driven directly, and HTTP
/// clients bound to 127.0.0.x source addresses.
class ACLDaemonTestCase: DaemonTestCase {
    var port = 0

    static let defaultRoutes = #"{ "req_path": "/", "type": "file_serve", "dir_path": "public" }"#

    /// The config: `acl` is the body of the top-level `acl` object (nil: no block).
    func aclConfigJSON(acl: String? = nil, routes: String = defaultRoutes) -> String {
        """
        { "workers": 1,
          "state_db": "\(stateDBPath)",
          "control": { "socket": "\(socketPath)", "mode": "0600" },
          "shutdown_grace_ms": 200,
          \(acl.map { #""acl": { \#($0) },"# } ?? "")
          "servers": [ { "listeners": [ { "host": "127.0.0.1", "port": \(port) } ],
                         "routes": [ \(routes) ] } ] }
        """
    }

    /// Writes the config and starts the daemon on it (a free port the first time).
    func startACLDaemon(acl: String? = nil, routes: String = defaultRoutes) throws {
        if port == 0 { port = freePort() }
        try writeConfig(aclConfigJSON(acl: acl, routes: routes))
        daemon = try makeDaemon()
    }

    /// Stops the running daemon and starts a new one on the same config, state db and port.
    func restartDaemon() throws {
        daemon?.shutdown(grace: .zero)
        daemon = nil
        daemon = try makeDaemon()
    }

    // MARK: control socket

    func put(_ action: String, _ cidr: String, ttl: Double? = nil, reason: String? = nil, force: Bool? = nil) throws -> HTTPResult {
        let body = try JSONEncoder().encode(ACLPutRequest(cidr: cidr, action: action, ttlSeconds: ttl, reason: reason, force: force))
        return try control("POST", Endpoint.acl, body: String(decoding: body, as: UTF8.self))
    }

    /// `put` that must succeed; the daemon's answer.
    @discardableResult
    func add(_ action: String, _ cidr: String, ttl: Double? = nil, reason: String? = nil, force: Bool? = nil,
             file: StaticString = #filePath, line: UInt = #line) throws -> ACLPutResponse {
        let r = try put(action, cidr, ttl: ttl, reason: reason, force: force)
        XCTAssertEqual(r.status, 200, r.text, file: file, line: line)
        return try r.json(ACLPutResponse.self)
    }

    func remove(_ cidr: String, reason: String? = nil) throws -> HTTPResult {
        let body = try JSONEncoder().encode(ACLRemoveRequest(cidr: cidr, reason: reason))
        return try control("POST", Endpoint.aclRemove, body: String(decoding: body, as: UTF8.self))
    }

    func entries(expired: Bool = false) throws -> [ACLEntryInfo] {
        try control("GET", Endpoint.acl + (expired ? "?expired=1" : "")).json(ACLListResponse.self).entries
    }

    func entry(_ cidr: String) throws -> ACLEntryInfo? { try entries().first { $0.cidr == cidr } }

    func check(_ ip: String) throws -> ACLCheckResponse {
        let r = try control("GET", Endpoint.aclCheck + "?ip=\(ip)")
        XCTAssertEqual(r.status, 200, r.text)
        return try r.json(ACLCheckResponse.self)
    }

    func audit() throws -> [AuditEntry] { try control("GET", Endpoint.audit).json(AuditResponse.self).entries }

    // MARK: HTTP clients

    static func get(_ path: String = "/hello.txt", keepAlive: Bool = false, extraHeaders: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(keepAlive ? "" : "Connection: close\r\n")\(extraHeaders)\r\n"
    }

    /// The status of one request on a fresh connection from `source`.
    func status(from source: String, _ path: String = "/hello.txt", headers: String = "") throws -> Int {
        let client = try RawClient(port: port, source: source)
        try client.send(Self.get(path, extraHeaders: headers))
        return try client.readResponse().status
    }

    /// The status of one request from `source` when it was answered before `deadline` (epoch
    /// seconds), else nil: for checks that hold only until a TTL runs out.
    func status(from source: String, answeredBefore deadline: Double, _ path: String = "/hello.txt") throws -> Int? {
        let s = try status(from: source, path)
        return Date().timeIntervalSince1970 < deadline ? s : nil
    }

    /// A keep-alive connection from `source`.
    func connect(from source: String) throws -> RawClient { try RawClient(port: port, source: source) }
}

/// What a peer saw until the server closed the connection (or the receive timeout passed).
struct PeerView {
    var bytes: [UInt8]
    /// The server closed (FIN or reset) rather than the read timing out.
    var closed: Bool
}

extension RawClient {
    /// Reads until the server closes the connection or the receive timeout passes; a reset counts as closed.
    func readUntilClosed() -> PeerView {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
            if n == 0 { return PeerView(bytes: out, closed: true) }
            if n < 0 { return PeerView(bytes: out, closed: errno == ECONNRESET) }
            out.append(contentsOf: buf[..<n])
        }
    }
}

/// Bounded polling for the in-process tests: checks `condition` every 20 ms until it holds or
/// `timeout` passes; whether it held.
@discardableResult
func pollUntil(timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(20_000)
    }
}
