#if canImport(Glibc)
import Glibc
#endif

/// The entries of a directory as the listing shows them: regular files and directories only
/// (symlinks followed), `.` and `..` left out, hidden files kept, sorted by name.
public struct DirectoryListing: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var isDirectory: Bool
        public var size: Int
        public var mtime: Int
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries.sorted { $0.name < $1.name }
    }

    /// Reads `directory` (blocking), the canonical path of a directory found inside its route's
    /// root: opened, then checked to be still that directory (a symlink swapped into its path
    /// since is not followed: 403), and its entries stat'ed through it. Entries that cannot be
    /// stat'ed are skipped, and so are symlinks leading out of `root` (the route's, canonical:
    /// they are 403 when asked for, and their target's size and date are not ours to show); the
    /// directory itself unreadable: its error (404, 403, 500).
    public static func read(_ directory: String, root: String) -> Result<DirectoryListing, HTTPError> {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(FileInfo.errorFor(errno)) }
        if let opened = FileServer.openedPath(fd), !opened.utf8.elementsEqual(directory.utf8) {
            close(fd)
            return .failure(.forbidden)
        }
        guard let dir = fdopendir(fd) else {
            close(fd)
            return .failure(.internalError)
        }
        defer { closedir(dir) }  // (and with it fd)
        var entries: [Entry] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if st.st_mode & S_IFMT == S_IFLNK {
                guard let real = FileServer.realPath(directory + "/" + name), FileServer.isInside(real, root: root),
                    fstatat(fd, name, &st, 0) == 0
                else { continue }
            }
            let info = FileInfo(st)
            switch info.kind {
            case .regular: entries.append(Entry(name: name, isDirectory: false, size: info.size, mtime: info.mtimeSeconds))
            case .directory: entries.append(Entry(name: name, isDirectory: true, size: 0, mtime: info.mtimeSeconds))
            case .other: continue
            }
        }
        return .success(DirectoryListing(entries: entries))
    }
}
