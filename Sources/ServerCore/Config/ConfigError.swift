/// A config problem, always naming the key path it was found at.
///
/// `description` is what the operator sees: `servers[1].listeners[0].port: 70000 is out of range (1-65535)`.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
