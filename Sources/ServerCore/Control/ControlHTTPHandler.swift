import ControlProtocol
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One control-socket connection: reads a request (body capped at `maxBody`), checks the
/// caller's credentials, runs the route on the thread pool (handlers may block on SQLite, never
/// the event loop), and writes the JSON answer. Refused callers get 403 and an audit record.
final class ControlHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maxBody = 64 << 10

    private let router: ControlRouter
    private let access: LiveControlAccess
    private let threadPool: NIOThreadPool
    private let audit: @Sendable (AuditRecord) -> Void
    private var caller: PeerCredentials?
    private var head: HTTPRequestHead?
    private var body = Data()
    private var tooLarge = false

    init(router: ControlRouter, access: LiveControlAccess, threadPool: NIOThreadPool, audit: @escaping @Sendable (AuditRecord) -> Void) {
        self.router = router
        self.access = access
        self.threadPool = threadPool
        self.audit = audit
    }

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        PeerCredentials.of(context.channel).whenSuccess { creds in
            bound.value.0.caller = creds
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = Data()
            tooLarge = false
        case .body(var chunk):
            if body.count + chunk.readableBytes > Self.maxBody {
                tooLarge = true
            } else if let bytes = chunk.readBytes(length: chunk.readableBytes) {
                body.append(contentsOf: bytes)
            }
        case .end:
            guard let h = head else { return }
            head = nil
            handle(h, context: context)
        }
    }

    private func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        if tooLarge {
            respond(.error(.payloadTooLarge, .payloadTooLarge, "request body is larger than \(Self.maxBody) bytes"),
                    keepAlive: false, context: context)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        // The caller is checked before anything of the request is parsed: a refused caller's
        // request is only named (method and path, as sent) in its audit record.
        guard access.allows(caller) else {
            let who = caller.map { "uid \($0.uid)" } ?? "unknown caller"
            let path = head.uri.prefix { $0 != "?" }
            let record = AuditRecord(
                time: Date().timeIntervalSince1970, uid: caller.map { Int64($0.uid) }, pid: caller.map { Int64($0.pid) },
                action: "\(head.method.rawValue) \(path)", arguments: "", result: "refused",
                reason: "\(who) is not root, the daemon's uid, or in control.allowed_uids/allowed_gids")
            // The audit write blocks on SQLite: on the thread pool, answered once it is committed.
            let audit = self.audit
            threadPool.runIfActive(eventLoop: context.eventLoop) { audit(record) }.whenComplete { _ in
                let (handler, context) = bound.value
                // Closed after the answer: a refused caller gets nothing more from this connection.
                handler.respond(.error(.forbidden, .forbidden, "\(who) may not use this control socket"),
                                keepAlive: false, context: context)
            }
            return
        }
        let (path, query) = Self.split(head.uri)
        let request = ControlRequest(method: head.method.rawValue, path: path, query: query, body: body, caller: caller)
        let router = self.router
        threadPool.runIfActive(eventLoop: context.eventLoop) { router.handle(request) }.whenComplete { result in
            let (handler, context) = bound.value
            let reply = (try? result.get()) ?? .error(.serviceUnavailable, .internal, "the daemon is shutting down")
            handler.respond(reply, keepAlive: head.isKeepAlive, context: context)
        }
    }

    private func respond(_ reply: ControlReply, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        // Bodies end with a newline (for curl); the Prometheus text has its own.
        let newline = reply.body.last != UInt8(ascii: "\n")
        headers.add(name: "Content-Length", value: String(reply.body.count + (newline ? 1 : 0)))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: reply.body.count + 1)
        buffer.writeBytes(reply.body)
        if newline { buffer.writeStaticString("\n") }
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    /// The path and the query's `name=value` pairs. A pair without a name (`?=`, `?=x`) is
    /// ignored; a value keeps any further `=`; bad percent-escapes are taken as written.
    static func split(_ uri: String) -> (String, [String: String]) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = kv.first, !name.isEmpty else { continue }
            let key = String(name).removingPercentEncoding ?? String(name)
            let value = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            query[key] = value
        }
        return (String(uri[..<q]), query)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
