#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Connecting to the control socket, shared by the daemon (is another daemon live on this path?)
/// and expctl (talk to it).
public enum UnixSocket {
    public enum ConnectError: Error, Equatable {
        case pathTooLong
        /// `errno` of the failed `socket` or `connect`; `ETIMEDOUT` when something listens on the
        /// path but did not accept within the timeout (a hung daemon whose backlog is full).
        case system(Int32)
    }

    /// How long a connect may wait for the listener to take it. A live daemon accepts at once; a
    /// hung one with a full backlog would otherwise block the caller for ever.
    public static let connectTimeoutSeconds = 2

    /// A connected stream socket to `path`; the caller closes it. The socket's send and receive
    /// timeouts are `timeoutSeconds` (set before `connect`, which on Linux honours SO_SNDTIMEO
    /// for a Unix socket); the caller may set others after.
    public static func connect(path: String, timeoutSeconds: Int = connectTimeoutSeconds) -> Result<Int32, ConnectError> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(.system(errno)) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            return .failure(.pathTooLong)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard r == 0 else {
            // A timed-out wait for a full backlog comes back as EAGAIN: say what it means.
            let err = errno == EAGAIN ? ETIMEDOUT : errno
            close(fd)
            return .failure(.system(err))
        }
        return .success(fd)
    }
}
