#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `stat(2)` says about a path, reduced to what serving needs.
public struct FileInfo: Equatable, Sendable {
    public enum Kind: Sendable { case regular, directory, other }
    public let kind: Kind
    public let device: UInt64
    public let inode: UInt64
    public let size: Int
    public let mtimeSeconds: Int
    public let mtimeNanos: Int
    /// When the inode last changed (its content or its metadata): a file rewritten in place
    /// with its size and mtime put back (`cp -p` over it, `rsync --inplace -t`) still has a new
    /// ctime, which no one can set.
    public let ctimeSeconds: Int
    public let ctimeNanos: Int
    public let mode: UInt32

    /// eXpServer (stage 12) refuses files without the "others read" permission bit.
    public var isWorldReadable: Bool { mode & UInt32(S_IROTH) != 0 }

    init(_ st: stat) {
        let fmt = st.st_mode & S_IFMT
        kind = fmt == S_IFREG ? .regular : (fmt == S_IFDIR ? .directory : .other)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int(st.st_size)
        #if canImport(Darwin)
        mtimeSeconds = Int(st.st_mtimespec.tv_sec)
        mtimeNanos = Int(st.st_mtimespec.tv_nsec)
        ctimeSeconds = Int(st.st_ctimespec.tv_sec)
        ctimeNanos = Int(st.st_ctimespec.tv_nsec)
        #else
        mtimeSeconds = Int(st.st_mtim.tv_sec)
        mtimeNanos = Int(st.st_mtim.tv_nsec)
        ctimeSeconds = Int(st.st_ctim.tv_sec)
        ctimeNanos = Int(st.st_ctim.tv_nsec)
        #endif
        mode = UInt32(st.st_mode)
    }

    /// `stat(2)` following symlinks. Errors map to the status eXpServer uses:
    /// missing → 404, permission → 403, anything else → 500.
    public static func of(_ path: String) -> Result<FileInfo, HTTPError> {
        var st = stat()
        if stat(path, &st) == 0 { return .success(FileInfo(st)) }
        return .failure(errorFor(errno))
    }

    public static func of(descriptor fd: CInt) -> FileInfo? {
        var st = stat()
        return fstat(fd, &st) == 0 ? FileInfo(st) : nil
    }

    static func errorFor(_ code: CInt) -> HTTPError {
        switch code {
        case ENOENT, ENOTDIR, ENAMETOOLONG, ELOOP: return .notFound
        case EACCES, EPERM: return .forbidden
        default: return .internalError
        }
    }

    /// nginx-style validator: `"<mtime hex>-<size hex>"`.
    public var etag: String { "\"\(String(mtimeSeconds, radix: 16))-\(String(size, radix: 16))\"" }

    /// Same file, unchanged: what a cache entry is revalidated against.
    func sameVersion(as other: FileInfo) -> Bool {
        inode == other.inode && device == other.device && size == other.size
            && mtimeSeconds == other.mtimeSeconds && mtimeNanos == other.mtimeNanos && mode == other.mode
            && ctimeSeconds == other.ctimeSeconds && ctimeNanos == other.ctimeNanos
    }
}
