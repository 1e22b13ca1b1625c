import NIOCore
import NIOHTTP1

/// What the dispatcher decided to send. The handler adds the default headers (`Date`,
/// `Server: eXpServer`, `Access-Control-Allow-Origin: *`), framing and `Connection`, and writes it.
public struct Response: Sendable {
    public enum Body: Sendable {
        case empty
        case buffer(ByteBuffer)
        /// `count` bytes of the open file `fd` from `offset`, sent with sendfile. The handler closes `fd`.
        case file(fd: CInt, offset: Int, count: Int)
        /// A body produced as it is sent (no length known up front): chunked to HTTP/1.1 clients,
        /// close-delimited to HTTP/1.0 ones.
        case stream(StreamingBody)
    }

    public var status: HTTPResponseStatus
    /// Type-specific headers, in order. `Content-Length` is added from the body unless `length` is set.
    public var headers: [(String, String)]
    public var body: Body
    /// Overrides the Content-Length derived from the body (HEAD answers carry the GET length).
    public var length: Int?
    /// Header lines already encoded (`Name: value\r\n`...), written before `headers`; a cached
    /// file keeps its validators this way so the hot path does not re-encode them.
    public var encodedHeaders: ByteBuffer?
    /// The route that answered, for its counters.
    public var routeStats: TrafficStats?
    /// Close the connection after this response whatever the request asked.
    public var closeAfter = false
    /// Send no Content-Length (a HEAD answer for a body that would be streamed).
    public var omitLength = false
    /// For a static file's full response: what compression needs to know about it.
    public var file: FileVariant?
    /// Send nothing and close the connection (a denied client under `acl.deny_action: "close"`).
    public var closeConnection = false
    /// The global access list's refusal: not counted by auto-ban, as a deny is already in place.
    public var refusedByACL = false

    public init(status: HTTPResponseStatus, headers: [(String, String)] = [], body: Body = .empty, length: Int? = nil,
                encodedHeaders: ByteBuffer? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.length = length
        self.encodedHeaders = encodedHeaders
    }

    var isStream: Bool {
        if case .stream = body { return true }
        return false
    }

    /// The body goes out after the head is written, piece by piece (a file in regions, a
    /// stream): counted and logged once it has, as far as it got.
    var bodySentLater: Bool {
        switch body {
        case .file, .stream: return true
        case .empty, .buffer: return false
        }
    }

    /// A canned response for an error or a status without a body (eXpServer sends errors empty).
    public static func status(_ status: HTTPResponseStatus) -> Response { Response(status: status) }

    public static var closeWithoutAnswer: Response {
        var r = refused
        r.closeConnection = true
        return r
    }

    /// The 403 of a client the global access list denies.
    public static var refused: Response {
        var r = Response(status: .forbidden)
        r.refusedByACL = true
        return r
    }

    var bodyLength: Int {
        switch body {
        case .empty: return 0
        case .buffer(let b): return b.readableBytes
        case .file(_, _, let count): return count
        case .stream: return 0
        }
    }

    /// Drops the body but keeps its length (HEAD, and framing for 304).
    func withoutBody() -> Response {
        var r = self
        r.length = length ?? bodyLength
        discard()
        r.body = .empty
        return r
    }

    /// Lets go of a response that will not be sent: its open file, if it has one, is closed.
    func discard() {
        if case .file(let fd, _, _) = body { _ = close(fd) }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A body that is produced while it is sent: `run` calls `write` for each piece (waiting for the
/// returned future before producing more: that is the backpressure) and completes at the end.
public protocol StreamingBody: Sendable {
    func run(on eventLoop: EventLoop, write: @escaping @Sendable (ByteBuffer) -> EventLoopFuture<Void>) -> EventLoopFuture<Void>
}

/// The facts about a served file that a response filter (compression) needs.
public struct FileVariant: Sendable {
    public var path: String
    public var info: FileInfo
    public var contentType: String
    public var etag: String
    /// The whole file, when it is small enough to be cached.
    public var body: ByteBuffer?
}
