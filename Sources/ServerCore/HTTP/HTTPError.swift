import NIOHTTP1

/// The edge error type: anything that should end a request with a canned response.
/// Only the status reaches the client; nothing internal is echoed.
public struct HTTPError: Error, Equatable, Sendable {
    public let status: HTTPResponseStatus
    public init(_ status: HTTPResponseStatus) { self.status = status }

    public static let badRequest = HTTPError(.badRequest)
    public static let forbidden = HTTPError(.forbidden)
    public static let notFound = HTTPError(.notFound)
    public static let internalError = HTTPError(.internalServerError)
    public static let badGateway = HTTPError(.badGateway)
}
