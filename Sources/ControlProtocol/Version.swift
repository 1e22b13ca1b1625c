/// The control protocol's version; endpoint paths carry it as `/v1/...`.
public enum ControlProtocolVersion {
    public static let current = 1
}
