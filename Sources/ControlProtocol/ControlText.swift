/// Text the control plane stores and prints (reasons, names): what counts as a control character,
/// decided once for the daemon, which refuses them in a reason, and expctl, which escapes any it
/// is sent.
public enum ControlText {
    /// C0 (below U+0020), DEL, C1 (U+0080–U+009F), and the invisible format characters that
    /// move or end lines in a terminal or table: the line and paragraph separators (U+2028,
    /// U+2029) and the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E,
    /// U+200F, U+202A–U+202E, U+2066–U+2069), which can make a row read as something else.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// At most `max` characters, none of them a control character.
    public static func isPrintableLine(_ text: String, max: Int) -> Bool {
        text.count <= max && !text.unicodeScalars.contains(where: isControl)
    }
}
