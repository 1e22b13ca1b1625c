/// Content-Type lookup by file extension, using eXpServer's own MIME table (`mime_types.txt`,
/// generated into `MediaTypeTable.swift` by `scripts/gen_media_types.py`).
///
/// - The table has duplicate extensions and eXpServer takes the **first match**, so for example
///   `.mp4` is `audio/aac` (not `video/mp4`), `.xml` is `application/rss+xml` and `.gz` is
///   `application/x-gzip`. Only the first occurrence of each extension is kept.
/// - An extension is the text from the last `.` of the path, **including that dot** (`".txt"`),
///   and only when that dot comes after the last `/` (so `/a.b/file` has none). A dotfile's name
///   is therefore its own extension (`/.txt` → `".txt"`, `/.bashrc` → `".bashrc"`), as in
///   eXpServer. A trailing dot (`/file.`) counts as no extension.
/// - Lookup is exact (case-sensitive, like eXpServer) first; only if that fails is the lowercased
///   extension tried, so `.JPG` is `image/jpeg`. All keys in the table are lowercase.
/// - Unknown or missing extensions give `application/octet-stream` from `type(forPath:)`
///   (eXpServer itself would send no Content-Type at all).
/// - Paths are expected without query string or fragment; this type does not strip them.
public enum MediaTypes {
    /// The type used for unknown or missing extensions.
    public static let fallback = "application/octet-stream"

    /// The extension of the last path component, including its leading dot (`".txt"`), or `nil`
    /// when the text after the last `/` has no `.`, or its last `.` is the final character.
    public static func fileExtension(ofPath path: Substring) -> Substring? {
        let utf8 = path.utf8
        guard let i = utf8.lastIndex(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") }),
            utf8[i] == UInt8(ascii: "."),
            utf8.index(after: i) != utf8.endIndex
        else { return nil }
        return path[i...]
    }

    /// The media type for a file path; never nil: `fallback` when the extension is missing or
    /// unknown.
    public static func type(forPath path: String) -> String {
        guard let ext = fileExtension(ofPath: path[...]) else { return fallback }
        return lookup(String(ext)) ?? fallback
    }

    /// The media type for an extension such as `".txt"` (the leading dot may be omitted:
    /// `"txt"` works too), or `nil` when the table has no entry for it.
    public static func type(forExtension ext: String) -> String? {
        if ext.utf8.first == UInt8(ascii: ".") { return lookup(ext) }
        return lookup("." + ext)
    }

    /// Exact lookup, then the lowercase fallback only when the exact one misses.
    @inline(__always)
    static func lookup(_ ext: String) -> String? {
        if let type = mediaTypeTable[ext] { return type }
        let lower = ext.lowercased()
        guard lower != ext else { return nil }
        return mediaTypeTable[lower]
    }
}
