import Foundation
import Logging
@testable import ServerCore

/// The tester's fixture (compat 7.1) in a temporary directory: ROOT/public with cat.jpg,
/// sample.pdf, sample.txt, xps_config.json and test/ copies, and ROOT/app.
struct Fixture {
    let root: URL
    var publicDir: URL { root.appendingPathComponent("public") }
    var appDir: URL { root.appendingPathComponent("app") }
    static let sampleText = String(repeating: "Hello everybody out there using minix - ", count: 31) + "xx"

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("expserver-test-\(UUID().uuidString)")
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("public/test"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("app"), withIntermediateDirectories: true)
        var jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0]
        var seed: UInt32 = 12345
        for _ in 0..<(156145 - 4) {
            seed = seed &* 1103515245 &+ 12345
            jpeg.append(UInt8(truncatingIfNeeded: seed >> 16))
        }
        let pdf = Array("%PDF-1.3\n".utf8) + [UInt8](repeating: 0x41, count: 3028 - 9)
        for dir in ["public", "public/test"] {
            try write(Data(jpeg), to: "\(dir)/cat.jpg")
            try write(Data(pdf), to: "\(dir)/sample.pdf")
            try write(Data(Fixture.sampleText.utf8), to: "\(dir)/sample.txt")
        }
        try write(Data("{}".utf8), to: "public/xps_config.json")
    }

    func write(_ data: Data, to relative: String, mode: Int = 0o644) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
        chmod(url.path, mode_t(mode))
    }

    func bytes(_ relative: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: root.appendingPathComponent(relative).path) ?? Data())
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

/// expserverd's HTTP server running in-process on 127.0.0.1 with a config written into the fixture.
final class TestServer {
    let fixture: Fixture
    let server: HTTPServer
    let ports: [Int]

    /// `configJSON` may use `$PORT0`, `$PORT1`, ... which are replaced by free ports.
    init(fixture: Fixture, configJSON: String, portCount: Int = 1) throws {
        self.fixture = fixture
        var ports: [Int] = []
        var json = configJSON
        for i in (0..<portCount).reversed() {
            let p = freePort()
            ports.insert(p, at: 0)
            json = json.replacingOccurrences(of: "$PORT\(i)", with: String(p))
        }
        self.ports = ports
        let path = fixture.publicDir.appendingPathComponent("xps_config.json").path
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        let config = try ConfigLoader.load(path: path)
        var logger = Logger(label: "test")
        logger.logLevel = .error
        server = try HTTPServer(config: config, logger: logger)
        try server.start()
    }

    var port: Int { ports[0] }

    /// The tester's stage-16/17 config on free ports (8001 → PORT0, 8003 → PORT1).
    static func tester(_ fixture: Fixture, extraRoute: String = "") throws -> TestServer {
        try TestServer(fixture: fixture, configJSON: """
            { "server_name": "eXpServer", "workers": 2,
              "servers": [
                { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
                  "routes": [
                    { "req_path": "/", "type": "file_serve", "dir_path": "../public", "index": ["index.html"] },
                    { "req_path": "/redirect", "type": "redirect", "http_status_code": 302,
                      "redirect_url": "http://localhost:8002/" } \(extraRoute) ] },
                { "listeners": [{ "host": "127.0.0.1", "port": $PORT1 }],
                  "routes": [ { "req_path": "/", "type": "redirect", "http_status_code": 302,
                                "redirect_url": "https://expserver.github.io" } ] }
              ] }
            """, portCount: 2)
    }

    /// Sends `request` on a new connection and reads one response.
    func request(_ request: String, port: Int? = nil, source: String? = nil, head: Bool = false) throws -> HTTPResult {
        let client = try RawClient(port: port ?? self.port, source: source)
        try client.send(request)
        return try client.readResponse(headRequest: head)
    }

    func get(_ path: String, headers: [String] = [], port: Int? = nil, source: String? = nil) throws -> HTTPResult {
        let extra = headers.map { $0 + "\r\n" }.joined()
        return try request("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(extra)Connection: close\r\n\r\n", port: port, source: source)
    }

    func stop() {
        server.shutdown(grace: .seconds(1))
        fixture.remove()
    }
}
