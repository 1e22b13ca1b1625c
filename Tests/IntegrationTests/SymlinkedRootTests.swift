import Foundation
import XCTest

/// A root that is a symlink (`deploy/current` -> a release) is followed on every request, as
/// nginx does: switching the link serves the new release at once, and containment is checked
/// against the release the link leads to now.
final class SymlinkedRootTests: ServerTestCase {
    func testSwitchingTheLinkServesTheNewRelease() throws {
        let f = try makeFixture()
        let deploy = f.publicDir.path + "/deploy"
        try f.write(Data("v1".utf8), to: "public/deploy/rel1/index.txt")
        try f.write(Data("v2".utf8), to: "public/deploy/rel2/index.txt")
        // From rel2 into rel1, which stops being the root once the link is switched.
        try FileManager.default.createSymbolicLink(atPath: deploy + "/rel2/old.txt", withDestinationPath: "../rel1/index.txt")
        try FileManager.default.createSymbolicLink(atPath: deploy + "/current", withDestinationPath: "rel1")
        let s = try startServer("""
            { "workers": 1, "servers": [ { "listeners": [{ "host": "127.0.0.1", "port": $PORT0 }],
              "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "deploy/current" } ] } ] }
            """, fixture: f)
        XCTAssertEqual(try exchange(s, getRequest("/index.txt")).response.text, "v1")
        // The atomic switch deploys use: a new link renamed over the old one.
        try FileManager.default.createSymbolicLink(atPath: deploy + "/next", withDestinationPath: "rel2")
        XCTAssertEqual(rename(deploy + "/next", deploy + "/current"), 0)
        XCTAssertEqual(try exchange(s, getRequest("/index.txt")).response.text, "v2", "at once")
        // The old release's file through a link in the new one: refused once the root is checked
        // again (at most a second later).
        XCTAssertTrue(pollUntil(timeout: 3) { (try? self.exchange(s, getRequest("/old.txt")).response.status) == 403 })
        try FileManager.default.removeItem(atPath: deploy + "/rel1")
        XCTAssertEqual(try exchange(s, getRequest("/index.txt")).response.text, "v2")
        XCTAssertTrue(hrefs(try exchange(s, getRequest("/")).response.text).contains("/index.txt"))
    }
}
