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

    /// Reads `directory` (blocking). Entries that cannot be stat'ed are skipped; nil when the
    /// directory itself cannot be opened.
    public static func read(_ directory: String) -> DirectoryListing? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            guard case .success(let info) = FileInfo.of(directory + "/" + name) else { continue }
            switch info.kind {
            case .regular: entries.append(Entry(name: name, isDirectory: false, size: info.size, mtime: info.mtimeSeconds))
            case .directory: entries.append(Entry(name: name, isDirectory: true, size: 0, mtime: info.mtimeSeconds))
            case .other: continue
            }
        }
        return DirectoryListing(entries: entries)
    }
}
