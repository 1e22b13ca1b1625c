#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization

/// Who is on the other end of a control connection, from `SO_PEERCRED` and `SO_PEERGROUPS`
/// (the kernel's word, not anything the client says).
public struct PeerCredentials: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32
    /// Supplementary groups (`SO_PEERGROUPS`, Linux 4.13+); empty when unknown.
    public var groups: [UInt32]

    public init(uid: UInt32, gid: UInt32, pid: Int32, groups: [UInt32] = []) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.groups = groups
    }

    /// Reads the peer's credentials of a Unix-domain socket channel; nil when unavailable. Its
    /// supplementary groups are added when the kernel gives them (else only the primary gid counts).
    static func of(_ channel: Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let future: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(17 /* SO_PEERCRED on Linux */))
        return future.flatMap { cred in
            let creds = PeerCredentials(uid: cred.uid, gid: cred.gid, pid: cred.pid)
            let groups: EventLoopFuture<PeerGroupsBuffer> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(59 /* SO_PEERGROUPS on Linux */))
            return groups.map { buffer -> PeerCredentials? in
                var withGroups = creds
                withGroups.groups = Self.groups(fromPeerGroups: (0..<buffer.count).map { buffer[$0] })
                return withGroups
            }.recover { _ in creds }  // an older kernel, or more groups than the buffer holds
        }.recover { _ in nil }
    }

    /// The groups in an `SO_PEERGROUPS` answer read into a zero-filled buffer (NIO does not hand
    /// back the length the kernel wrote). The kernel keeps a credential's groups sorted (setgroups
    /// sorts them), so they end at the last non-zero gid and a 0 can only lead: [0, 5, 0, 0] is
    /// {0, 5}. All zeros reads as no groups: a lone group 0 cannot be told from none, and is then
    /// honoured only as the primary gid.
    static func groups(fromPeerGroups raw: [UInt32]) -> [UInt32] {
        guard let last = raw.lastIndex(where: { $0 != 0 }) else { return [] }
        return Array(raw[...last])
    }
}

/// Room for 256 supplementary groups, the most `SO_PEERGROUPS` is read for (beyond that the
/// kernel answers ERANGE and only the primary gid counts).
typealias PeerGroupsBuffer = InlineArray<256, UInt32>

/// Linux `struct ucred` (only visible to C with _GNU_SOURCE, so declared here with its layout).
struct UCred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Who may use the control socket: root, the daemon's own uid, and the configured uids/gids (a
/// gid matches the caller's primary group or any of its supplementary groups).
public struct ControlAccess: Sendable, Equatable {
    public var allowedUIDs: Set<UInt32>
    public var allowedGIDs: Set<UInt32>
    public var daemonUID: UInt32

    public init(allowedUIDs: Set<UInt32> = [], allowedGIDs: Set<UInt32> = [], daemonUID: UInt32 = getuid()) {
        self.allowedUIDs = allowedUIDs
        self.allowedGIDs = allowedGIDs
        self.daemonUID = daemonUID
    }

    public func allows(_ peer: PeerCredentials?) -> Bool {
        guard let peer else { return false }
        return peer.uid == 0 || peer.uid == daemonUID || allowedUIDs.contains(peer.uid) || allowedGIDs.contains(peer.gid)
            || peer.groups.contains { allowedGIDs.contains($0) }
    }
}

/// The `ControlAccess` in force: read for every request, replaced by a reload, so a uid or gid
/// taken out of `control.allowed_uids/gids` loses access at once, open connections included.
public final class LiveControlAccess: Sendable {
    private let current: Mutex<ControlAccess>

    public init(_ access: ControlAccess) { current = Mutex(access) }

    public var access: ControlAccess { current.withLock { $0 } }
    public func replace(with access: ControlAccess) { current.withLock { $0 = access } }
    public func allows(_ peer: PeerCredentials?) -> Bool { current.withLock { $0.allows(peer) } }
}
