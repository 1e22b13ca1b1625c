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
        /// `errno` of the failed `socket` or `connect`.
        case system(Int32)
    }

    /// A connected stream socket to `path`; the caller closes it.
    public static func connect(path: String) -> Result<Int32, ConnectError> {
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
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard r == 0 else {
            let err = errno
            close(fd)
            return .failure(.system(err))
        }
        return .success(fd)
    }
}
