import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The daemon as an unprivileged user (as `swift run` by a developer, or a service with
/// `User=`): it serves files and proxied requests. (Every connection was reset: TCP_NODELAY was
/// also set at the socket level, where option 1 is SO_DEBUG, which needs CAP_NET_ADMIN, so each
/// accepted connection's set-up failed; CI, which runs as root, did not see it.)
final class UnprivilegedE2ETests: E2ETestCase {
    func testServesAsAnUnprivilegedUser() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root to run the daemon as nobody") }
        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv) else { throw XCTSkip("setpriv (util-linux) is missing") }
        let upstream = try FakeUpstream(id: "up")
        defer { upstream.stop() }
        // What nobody needs: the binary, a directory for its state, the config and the files.
        let home = dir + "/nobody"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        chmod(home, 0o777)
        let binary = dir + "/expserverd"
        try FileManager.default.copyItem(atPath: try Binaries.url("expserverd").path, toPath: binary)
        chmod(binary, 0o755)
        let port = freePort()
        try writeConfig("""
            { "state_db": "\(home)/state.db", "control": { "socket": "\(home)/ctl.sock" },
              "servers": [ { "listeners": [ { "host": "127.0.0.1", "port": \(port) } ],
                "routes": [ { "req_path": "/up/", "type": "reverse_proxy", "upstreams": [ "\(upstream.address)" ] },
                            { "req_path": "/", "type": "file_serve", "dir_path": "public" } ] } ] }
            """)
        let launched = try launch(
            URL(fileURLWithPath: setpriv), ["--reuid=65534", "--regid=65534", "--clear-groups", binary, configPath], name: "expserverd")
        XCTAssertTrue(waitUntil(timeout: 30) { !launched.process.isRunning || portAccepts(port) }, launched.stderr)
        XCTAssertTrue(launched.process.isRunning, launched.stderr)
        let file = try httpGet(port: port, path: "/hello.txt")
        XCTAssertEqual(file.status, 200)
        XCTAssertEqual(file.body, Self.helloText)
        let proxied = try httpGet(port: port, path: "/up/x")
        XCTAssertEqual(proxied.status, 200)
        XCTAssertEqual(proxied.body, "up")
    }
}
