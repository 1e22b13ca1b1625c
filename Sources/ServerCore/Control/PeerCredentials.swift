#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization

/// Who is on the other end of a control connection, from `SO_PEERCRED` (the kernel's word,
/// not anything the client says).
public struct PeerCredentials: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }

    /// Reads the peer's credentials of a Unix-domain socket channel; nil when unavailable.
    static func of(_ channel: Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let future: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(17 /* SO_PEERCRED on Linux */))
        return future.map { Optional(PeerCredentials(uid: $0.uid, gid: $0.gid, pid: $0.pid)) }.recover { _ in nil }
    }
}

/// Linux `struct ucred` (only visible to C with _GNU_SOURCE, so declared here with its layout).
struct UCred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Who may use the control socket: root, the daemon's own uid, and the configured uids/gids.
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
