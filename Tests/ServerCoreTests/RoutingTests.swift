import XCTest

@testable import ServerCore

/// Route selection (longest prefix, boundary rule, ties to the first) and server selection
/// (listener, then Host with the port stripped, case-insensitively).
final class RouteTableTests: XCTestCase {
    func route(_ reqPath: String, _ order: Int) -> CompiledRoute {
        CompiledRoute(
            reqPath: reqPath, order: order, access: RouteAccess(whitelist: [], blacklist: []),
            action: .redirect(status: 302, location: "\(reqPath)#\(order)"))
    }

    /// The `location` of the chosen route identifies it as `reqPath#order`.
    func pick(_ table: RouteTable, _ path: String) -> String? {
        guard let r = table.route(for: path), case .redirect(_, let id) = r.action else { return nil }
        return id
    }

    func testLongestPrefixWins() {
        let table = RouteTable([route("/", 0), route("/api", 1), route("/api/v2", 2), route("/a", 3)])
        XCTAssertEqual(pick(table, "/"), "/#0")
        XCTAssertEqual(pick(table, "/sample.txt"), "/#0")
        XCTAssertEqual(pick(table, "/api"), "/api#1")
        XCTAssertEqual(pick(table, "/api/x"), "/api#1")
        XCTAssertEqual(pick(table, "/api/v2"), "/api/v2#2")
        XCTAssertEqual(pick(table, "/api/v2/users"), "/api/v2#2")
        XCTAssertEqual(pick(table, "/a/b"), "/a#3")
    }

    func testBoundaryRule() {
        let table = RouteTable([route("/api", 0), route("/redirect", 1)])
        XCTAssertNil(pick(table, "/api2"))
        XCTAssertNil(pick(table, "/apix/y"))
        XCTAssertNil(pick(table, "/redirectx"))
        XCTAssertNil(pick(table, "/ap"))
        XCTAssertNil(pick(table, "/"))
        XCTAssertEqual(pick(table, "/redirect"), "/redirect#1")
        XCTAssertEqual(pick(table, "/redirect/"), "/redirect#1")
        XCTAssertEqual(pick(table, "/redirect/abc"), "/redirect#1")
    }

    func testPrefixEndingInSlashMatchesAnyContinuation() {
        let table = RouteTable([route("/files/", 0)])
        XCTAssertEqual(pick(table, "/files/x"), "/files/#0")
        XCTAssertEqual(pick(table, "/files/"), "/files/#0")
        XCTAssertNil(pick(table, "/files"), "the pathname must start with the whole prefix")
    }

    func testFallsBackToShorterPrefixWhenLongerFailsBoundary() {
        let table = RouteTable([route("/", 0), route("/api", 1)])
        XCTAssertEqual(pick(table, "/api2"), "/#0")
    }

    func testTiesGoToTheFirstInConfigOrder() {
        let table = RouteTable([route("/x", 0), route("/", 1), route("/x", 2), route("/", 3)])
        XCTAssertEqual(pick(table, "/x/y"), "/x#0")
        XCTAssertEqual(pick(table, "/y"), "/#1")
        // Order of construction must not matter, only `order`.
        let reversed = RouteTable([route("/x", 2), route("/x", 0)])
        XCTAssertEqual(pick(reversed, "/x"), "/x#0")
    }

    func testEmptyTable() {
        XCTAssertTrue(RouteTable([]).isEmpty)
        XCTAssertNil(pick(RouteTable([]), "/"))
    }
}

final class ServerSelectionTests: XCTestCase {
    func server(_ listeners: Set<Int>, _ hostnames: [String], id: String) -> VirtualServer {
        let r = CompiledRoute(
            reqPath: "/", order: 0, access: RouteAccess(whitelist: [], blacklist: []),
            action: .redirect(status: 302, location: id))
        return VirtualServer(listenerIDs: listeners, hostnames: hostnames, routes: RouteTable([r]))
    }

    func pick(_ routing: Routing, listener: Int, host: String?) -> String? {
        guard let s = routing.server(listener: listener, host: { host.map { Substring($0) } }),
            case .redirect(_, let id) = s.routes.route(for: "/")?.action
        else { return nil }
        return id
    }

    var routing: Routing {
        Routing(servers: [
            server([0], ["a.example", "localhost:8001"], id: "A"),
            server([0, 1], ["b.example"], id: "B"),
            server([1], [], id: "catch-all-1"),
            server([0], ["b.example"], id: "B-shadowed"),
        ], listenerCount: 3)
    }

    func testHostnames() {
        XCTAssertEqual(pick(routing, listener: 0, host: "a.example"), "A")
        XCTAssertEqual(pick(routing, listener: 0, host: "b.example"), "B")
        XCTAssertEqual(pick(routing, listener: 1, host: "b.example"), "B")
        XCTAssertEqual(pick(routing, listener: 0, host: "localhost:8001"), "A", "raw value with port, as eXpServer compares")
    }

    func testPortIsStripped() {
        XCTAssertEqual(pick(routing, listener: 0, host: "a.example:8001"), "A")
        XCTAssertEqual(pick(routing, listener: 0, host: "b.example:1"), "B")
        XCTAssertEqual(pick(routing, listener: 0, host: "localhost"), nil, "a name with a port matches only with that port")
    }

    func testCaseInsensitive() {
        XCTAssertEqual(pick(routing, listener: 0, host: "A.EXAMPLE"), "A")
        XCTAssertEqual(pick(routing, listener: 0, host: "B.Example:80"), "B")
    }

    func testUnknownHostAndCatchAll() {
        XCTAssertNil(pick(routing, listener: 0, host: "c.example"))
        XCTAssertNil(pick(routing, listener: 0, host: nil))
        XCTAssertNil(pick(routing, listener: 0, host: "a.example.evil"))
        XCTAssertEqual(pick(routing, listener: 1, host: "c.example"), "catch-all-1")
        XCTAssertEqual(pick(routing, listener: 1, host: nil), "catch-all-1")
    }

    func testListenerWithoutServersAndOutOfRange() {
        XCTAssertNil(pick(routing, listener: 2, host: "a.example"))
        XCTAssertNil(pick(routing, listener: 9, host: "a.example"))
        XCTAssertNil(pick(routing, listener: -1, host: "a.example"))
    }

    func testIPv6HostLiteral() {
        let r = Routing(servers: [server([0], ["[::1]"], id: "v6")], listenerCount: 1)
        XCTAssertEqual(pick(r, listener: 0, host: "[::1]:8080"), "v6")
        XCTAssertEqual(pick(r, listener: 0, host: "[::1]"), "v6")
        XCTAssertEqual(Routing.hostWithoutPort("[::1]:80"), "[::1]")
        XCTAssertEqual(Routing.hostWithoutPort("example.com:80"), "example.com")
        XCTAssertEqual(Routing.hostWithoutPort("example.com"), "example.com")
    }
}
