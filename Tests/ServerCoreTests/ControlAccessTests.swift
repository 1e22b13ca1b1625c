import XCTest

@testable import ServerCore

/// Who may use the control socket: root, the daemon's uid, configured uids and gids; nobody else,
/// and never a caller whose credentials could not be read.
final class ControlAccessTests: XCTestCase {
    func testTable() {
        let access = ControlAccess(allowedUIDs: [1001, 1002], allowedGIDs: [50], daemonUID: 999)
        let cases: [(String, PeerCredentials?, Bool)] = [
            ("root", PeerCredentials(uid: 0, gid: 0, pid: 10), true),
            ("root in any group", PeerCredentials(uid: 0, gid: 12345, pid: 10), true),
            ("the daemon's uid", PeerCredentials(uid: 999, gid: 999, pid: 11), true),
            ("allowed uid", PeerCredentials(uid: 1001, gid: 7000, pid: 12), true),
            ("second allowed uid", PeerCredentials(uid: 1002, gid: 7000, pid: 12), true),
            ("allowed gid", PeerCredentials(uid: 4000, gid: 50, pid: 13), true),
            ("stranger", PeerCredentials(uid: 4000, gid: 4000, pid: 14), false),
            ("nobody", PeerCredentials(uid: 65534, gid: 65534, pid: 15), false),
            ("gid equal to an allowed uid", PeerCredentials(uid: 4000, gid: 1001, pid: 16), false),
            ("uid equal to an allowed gid", PeerCredentials(uid: 50, gid: 4000, pid: 17), false),
            ("unknown caller", nil, false),
        ]
        for (name, peer, expected) in cases {
            XCTAssertEqual(access.allows(peer), expected, name)
        }
    }

    func testDefaultsAllowOnlyRootAndTheDaemonUser() {
        let access = ControlAccess(daemonUID: 1500)
        XCTAssertTrue(access.allows(PeerCredentials(uid: 0, gid: 0, pid: 1)))
        XCTAssertTrue(access.allows(PeerCredentials(uid: 1500, gid: 1500, pid: 1)))
        XCTAssertFalse(access.allows(PeerCredentials(uid: 1501, gid: 1500 + 1, pid: 1)))
        XCTAssertFalse(access.allows(nil))
    }

    func testDaemonUIDDefaultsToTheProcess() {
        XCTAssertEqual(ControlAccess().daemonUID, getuid())
    }

    func testSupplementaryGroupsCount() {
        let access = ControlAccess(allowedGIDs: [50], daemonUID: 999)
        XCTAssertTrue(access.allows(PeerCredentials(uid: 4000, gid: 4000, pid: 1, groups: [10, 50, 60])))
        XCTAssertFalse(access.allows(PeerCredentials(uid: 4000, gid: 4000, pid: 1, groups: [10, 60])))
        XCTAssertFalse(access.allows(PeerCredentials(uid: 4000, gid: 4000, pid: 1)))
        XCTAssertFalse(ControlAccess(allowedUIDs: [50], daemonUID: 999).allows(PeerCredentials(uid: 4000, gid: 4000, pid: 1, groups: [50])),
                       "a group is not a uid")
    }

    /// SO_PEERGROUPS into a zero-filled buffer: the kernel's sorted list, then padding.
    func testPeerGroupsAnswer() {
        let cases: [([UInt32], [UInt32])] = [
            ([5, 7, 0, 0], [5, 7]),
            ([0, 5, 7, 0], [0, 5, 7]),
            ([0, 0, 0, 0], []),
            ([], []),
            ([42], [42]),
            ([1, 2, 3, 4], [1, 2, 3, 4]),
        ]
        for (raw, groups) in cases {
            XCTAssertEqual(PeerCredentials.groups(fromPeerGroups: raw), groups, "\(raw)")
        }
    }
}
