/// Text the control plane stores and prints (reasons, names): what counts as a control character,
/// decided once for the daemon, which refuses them in a reason, and expctl, which escapes any it
/// is sent.
public enum ControlText {
    /// C0 (below U+0020), DEL, or C1 (U+0080–U+009F).
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// At most `max` characters, none of them a control character.
    public static func isPrintableLine(_ text: String, max: Int) -> Bool {
        text.count <= max && !text.unicodeScalars.contains(where: isControl)
    }
}
