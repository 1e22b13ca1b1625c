import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// One client connection, after NIO's HTTP/1 decoder: dispatches each request, writes the answer
/// as bytes (`ResponseEncoder`), and owns the connection's life:
/// - **Pipelining**: answers go out in request order. Most answers are made synchronously; while
///   one is deferred (a directory listing read off the loop), later request parts are queued and
///   reading stops until it is written.
/// - **Backpressure**: while the socket is not writable, reading stops, so a client that pipelines
///   requests without reading the answers cannot make us queue without bound.
/// - **Keep-alive**: per the request (`Connection`, HTTP/1.0 vs 1.1); 400/414/431/5xx close.
/// - **Idle timer** (eXpServer's session timer): a connection with nothing read or written for
///   `idleTimeout` is closed without a response. A response still being written does not count
///   as idle.
/// - **Codec errors** become 400, or 414/431 for an oversized head, then close.
/// An error here closes this connection only.
final class HTTPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let state: ServerState
    private let listener: XPSConfig.Listener
    private let headGuard: HeadGuard
    private let idleTimeout: TimeAmount
    /// The TCP peer; the request's client may differ behind a trusted proxy (`ClientAddress`).
    private var peer: IPAddress?
    private var peerText = "-"
    private var head: HTTPRequestHead?
    /// A deferred response is being produced; request parts wait in `queue`.
    private var waiting = false
    private var queue = CircularBuffer<HTTPServerRequestPart>()
    private var queuedError: HTTPParserError?
    private var readSuppressed = false
    private var closing = false
    /// Shutdown asked us to finish: the current response (if any) is the last.
    private var quiescing = false
    private var writesInFlight = 0
    private var lastActivity = NIODeadline.now()
    private var idleTask: Scheduled<Void>?
    private var accessCache = AccessDecisionCache()

    init(state: ServerState, listener: XPSConfig.Listener, headGuard: HeadGuard, idleTimeout: TimeAmount) {
        self.state = state
        self.listener = listener
        self.headGuard = headGuard
        self.idleTimeout = idleTimeout
    }

    // MARK: life cycle

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.channel.remoteAddress, let ip = remote.ipAddress, let addr = IPAddress(ip) {
            peer = addr
            peerText = addr.description
        }
        lastActivity = .now()
        scheduleIdleCheck(context: context, in: idleTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTask?.cancel()
        idleTask = nil
        context.fireChannelInactive()
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext, in delay: TimeAmount) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTask = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            handler.idleCheck(context: context)
        }
    }

    private func idleCheck(context: ChannelHandlerContext) {
        let idleFor = NIODeadline.now() - lastActivity
        if writesInFlight == 0 && !waiting && idleFor >= idleTimeout {
            context.close(promise: nil)  // silently, as eXpServer does
            return
        }
        scheduleIdleCheck(context: context, in: max(idleTimeout - idleFor, .milliseconds(100)))
    }

    // MARK: reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        let part = Self.unwrapInboundIn(data)
        if waiting || closing {
            if !closing { queue.append(part) }
            return
        }
        process(part, context: context)
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let h):
            head = h
        case .body:
            break  // bodies are not used by file_serve or redirect; the decoder keeps the framing.
        case .end:
            headGuard.requestEnded()
            guard let h = head else { return }
            head = nil
            handle(h, context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        if waiting || !context.channel.isWritable {
            readSuppressed = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        if readSuppressed && !waiting && context.channel.isWritable {
            readSuppressed = false
            context.read()
        }
    }

    // MARK: dispatch

    private func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let snapshot = state.current
        let access = state.access.snapshot
        let client: IPAddress?
        if let p = peer, access.trusted.count > 0 {
            client = ClientAddress.resolve(peer: p, forwardedFor: head.headers["x-forwarded-for"], trusted: access.trusted)
        } else {
            client = peer
        }
        let decision = client.map { accessCache.decision(for: $0, in: access) } ?? .noMatch
        let result = state.dispatcher.dispatch(
            head: head, config: snapshot.config, listener: snapshot.config.listenerIDs[listener] ?? -1, client: client,
            access: access, globalDecision: decision, eventLoop: context.eventLoop)
        switch result {
        case .now(let response):
            send(response, for: head, client: client, snapshot: snapshot, context: context)
        case .later(let future):
            waiting = true
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            future.whenComplete { result in
                let (handler, context) = bound.value
                let response = (try? result.get()) ?? .status(.internalServerError)
                handler.waiting = false
                handler.send(response, for: head, client: client, snapshot: snapshot, context: context)
                handler.drainQueue(context: context)
            }
        }
    }

    private func drainQueue(context: ChannelHandlerContext) {
        while !waiting && !closing, let part = queue.popFirst() {
            process(part, context: context)
        }
        if !waiting && !closing, let error = queuedError {
            queuedError = nil
            sendParserError(error, context: context)
        }
        resumeReadingIfPossible(context: context)
    }

    // MARK: writing

    private func send(
        _ response: Response, for head: HTTPRequestHead?, client: IPAddress?, snapshot: ServingSnapshot, context: ChannelHandlerContext
    ) {
        guard context.channel.isActive, !closing else {
            if case .file(let fd, _, _) = response.body { _ = Glibc.close(fd) }
            return
        }
        if let client { state.access.record(client: client, status: response.status.code) }
        if response.closeConnection {
            closing = true
            context.close(promise: nil)
            return
        }
        lastActivity = .now()
        let keepAlive = !quiescing && (head?.isKeepAlive ?? false) && !Self.closesConnection(response.status.code)
        let headBytes = ResponseEncoder.encodeHead(
            response, keepAlive: keepAlive, announceKeepAlive: keepAlive && head?.version.minor == 0,
            allocator: context.channel.allocator)
        // The last write carries the completion only when something must happen after it.
        let needsCompletion = !keepAlive || { if case .file = response.body { return true } else { return false } }()
        let promise = needsCompletion ? context.eventLoop.makePromise(of: Void.self) : nil
        var fileHandle: NIOFileHandle? = nil
        switch response.body {
        case .empty:
            context.write(Self.wrapOutboundOut(.byteBuffer(headBytes)), promise: promise)
        case .buffer(var body):
            if body.readableBytes <= 2048 {
                // Small bodies ride in the head's buffer: one iovec, one copy of a few bytes.
                var combined = headBytes
                combined.writeBuffer(&body)
                context.write(Self.wrapOutboundOut(.byteBuffer(combined)), promise: promise)
            } else {
                context.write(Self.wrapOutboundOut(.byteBuffer(headBytes)), promise: nil)
                context.write(Self.wrapOutboundOut(.byteBuffer(body)), promise: promise)
            }
        case .file(let fd, let offset, let count):
            context.write(Self.wrapOutboundOut(.byteBuffer(headBytes)), promise: nil)
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
            fileHandle = handle
            let region = FileRegion(fileHandle: handle, readerIndex: offset, endIndex: offset + count)
            context.write(Self.wrapOutboundOut(.fileRegion(region)), promise: promise)
        }
        if let log = snapshot.accessLog {
            log.append(AccessLog.combinedLine(
                client: client == peer ? peerText : client?.description ?? peerText, time: Int(time(nil)),
                requestLine: head.map { "\($0.method.rawValue) \($0.uri) HTTP/\($0.version.major).\($0.version.minor)" } ?? "-",
                status: Int(response.status.code), bytes: head?.method == .HEAD ? 0 : response.length ?? response.bodyLength,
                referer: head?.headers.first(name: "referer"), userAgent: head?.headers.first(name: "user-agent")))
        }
        context.flush()
        guard let promise else { return }
        if !keepAlive { closing = true }
        writesInFlight += 1
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let handle = fileHandle
        promise.futureResult.whenComplete { _ in
            try? handle?.close()
            let (handler, context) = bound.value
            handler.writesInFlight -= 1
            handler.lastActivity = .now()
            if !keepAlive { context.close(promise: nil) }
        }
    }

    /// Statuses after which the connection's state is suspect, so it is not reused.
    static func closesConnection(_ code: UInt) -> Bool {
        code == 400 || code == 408 || code == 413 || code == 414 || code == 431 || code >= 500
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        quiescing = true
        if head == nil && !waiting && writesInFlight == 0 {
            // Idle between requests: close once anything already written has gone out.
            closing = true
            let channel = context.channel
            context.writeAndFlush(Self.wrapOutboundOut(.byteBuffer(channel.allocator.buffer(capacity: 0)))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        if waiting {
            queuedError = parserError
            return
        }
        sendParserError(parserError, context: context)
    }

    private func sendParserError(_ error: HTTPParserError, context: ChannelHandlerContext) {
        let status: HTTPResponseStatus
        if case .headerOverflow = error {
            status = headGuard.requestLineTooLong ? .uriTooLong : .requestHeaderFieldsTooLarge
        } else {
            status = .badRequest
        }
        send(.status(status), for: nil, client: peer, snapshot: state.current, context: context)
    }
}
