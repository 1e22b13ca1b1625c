import ControlProtocol
import Foundation
import NIOHTTP1

/// One control request, as the handlers see it.
public struct ControlRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var body: Data
    public var caller: PeerCredentials?
}

/// A handler's answer: a status and a body, JSON unless it says otherwise (`/v1/metrics`).
public struct ControlReply: Sendable {
    public var status: HTTPResponseStatus
    public var body: Data
    public var contentType = "application/json"

    public static func json<T: Encodable>(_ value: T, status: HTTPResponseStatus = .ok) -> ControlReply {
        ControlReply(status: status, body: (try? ControlJSON.encoder.encode(value)) ?? Data("{}".utf8))
    }

    public static func error(_ status: HTTPResponseStatus, _ code: ControlErrorCode, _ message: String) -> ControlReply {
        json(ControlErrorBody(code: code, message: message), status: status)
    }
}

/// A failure a handler throws; becomes the error body.
public struct ControlFailure: Error, Sendable {
    public var status: HTTPResponseStatus
    public var code: ControlErrorCode
    public var message: String

    public init(_ status: HTTPResponseStatus, _ code: ControlErrorCode, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}

public typealias ControlHandler = @Sendable (ControlRequest) throws -> ControlReply

/// Path → method → handler. Unknown paths are 404, known paths with another method 405, thrown
/// `ControlFailure`s become their error body, anything else a 500 that says only "internal error".
/// Adding a command is one `register` call plus its Codable types in `ControlProtocol`.
public struct ControlRouter: Sendable {
    private var routes: [String: [String: ControlHandler]] = [:]

    public init() {}

    public mutating func register(_ method: ControlMethod, _ path: String, _ handler: @escaping ControlHandler) {
        routes[path, default: [:]][method.rawValue] = handler
    }

    public func handle(_ request: ControlRequest) -> ControlReply {
        guard let byMethod = routes[request.path] else {
            return .error(.notFound, .notFound, "no such endpoint: \(request.path)")
        }
        guard let handler = byMethod[request.method] else {
            return .error(.methodNotAllowed, .methodNotAllowed,
                          "\(request.method) is not allowed on \(request.path) (allowed: \(byMethod.keys.sorted().joined(separator: ", ")))")
        }
        do {
            return try handler(request)
        } catch let failure as ControlFailure {
            return .error(failure.status, failure.code, failure.message)
        } catch {
            return .error(.internalServerError, .internal, "internal error")
        }
    }
}

/// JSON as the control protocol writes and reads it: sorted keys, strict request bodies.
public enum ControlJSON {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    public static let maxReasonLength = 1000

    /// Decodes a request body, refusing malformed JSON and fields the type does not know.
    /// An empty body decodes from `{}`. The JSON is read by the config's strict parser first
    /// (RFC 8259: no trailing commas; a key given twice is refused, not one of them dropped).
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, fields: Set<String>) throws -> T {
        let bytes = data.isEmpty ? Data("{}".utf8) : data
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch let error as JSONParser.SyntaxError {
            throw ControlFailure(.badRequest, .badRequest, "request body is not valid JSON: \(error)")
        } catch {
            throw ControlFailure(.badRequest, .badRequest, "invalid request body: \(error)")  // a key given twice, 1e400, not UTF-8
        }
        guard case .object(let dict) = root else {
            throw ControlFailure(.badRequest, .badRequest, "request body is not a JSON object")
        }
        if let unknown = dict.keys.sorted().first(where: { !fields.contains($0) }) {
            throw ControlFailure(.badRequest, .badRequest, "unknown field \"\(unknown)\"")
        }
        // A reason is printed in operators' tables and terminals: one line of text, no control
        // bytes (a newline would forge a row; an escape sequence would reach the terminal).
        if case .string(let reason)? = dict["reason"], !ControlText.isPrintableLine(reason, max: maxReasonLength) {
            throw ControlFailure(.badRequest, .badRequest,
                "reason must be one line of at most \(maxReasonLength) characters without control characters")
        }
        do {
            return try JSONDecoder().decode(T.self, from: bytes)
        } catch let error as DecodingError {
            // JSONDecoder says only "not valid JSON" (no field) for a number an integer field cannot
            // hold, such as 2.5: the body parsed above, so that is what it is; name the field.
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
               let (key, number) = dict.sorted(by: { $0.key < $1.key }).lazy.compactMap({ key, value -> (String, Double)? in
                   guard case .number(let d) = value, d.rounded() != d || abs(d) >= 0x1p63 else { return nil }
                   return (key, d)
               }).first {
                throw ControlFailure(.badRequest, .badRequest, "invalid request body: \(key): expected an integer, found \(number)")
            }
            throw ControlFailure(.badRequest, .badRequest, "invalid request body: \(describe(error))")
        } catch {
            throw ControlFailure(.badRequest, .badRequest, "invalid request body: \(error)")
        }
    }

    /// A decoding error in one line naming the field: `weight: expected an integer` (Swift's own
    /// description is a dump of the decoder's context).
    static func describe(_ error: DecodingError) -> String {
        func field(_ context: DecodingError.Context) -> String {
            context.codingPath.isEmpty ? "the body" : context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        func kind(_ type: Any.Type) -> String {
            switch type {
            case is Int.Type, is Int64.Type, is UInt.Type, is Int32.Type: return "an integer"
            case is Double.Type: return "a number"
            case is String.Type: return "a string"
            case is Bool.Type: return "true or false"
            default: return "\(type)"
            }
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(field(context)): expected \(kind(type))"
        case .valueNotFound(let type, let context): return "\(field(context)): expected \(kind(type)), found null"
        case .keyNotFound(let key, let context):
            // (Our own types word theirs, starting with the field's name; Swift's are a dump.)
            return context.debugDescription.hasPrefix(key.stringValue + " ") ? context.debugDescription : "\(key.stringValue): required"
        // (A number that does not fit the field's type, such as 2.5 or 1e40 for an integer.)
        case .dataCorrupted(let context): return "\(field(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
