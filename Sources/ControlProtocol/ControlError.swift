/// The control plane's error body: `{ "error": { "code": "...", "message": "..." } }`.
/// `code` is stable and machine-readable; `message` is one line for a person.
public struct ControlErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
    }
    public var error: Detail

    public init(code: ControlErrorCode, message: String) {
        error = Detail(code: code.rawValue, message: message)
    }
}

/// Every error code the daemon sends.
public enum ControlErrorCode: String, Codable, Sendable {
    case badRequest = "bad_request"
    case forbidden
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case payloadTooLarge = "payload_too_large"
    case invalidConfig = "invalid_config"
    case storeFailure = "store_failure"
    case `internal`
}
