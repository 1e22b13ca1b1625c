import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// One client connection: decodes its requests (`RequestDecoder`), dispatches each one, writes
/// the answer as bytes (`ResponseEncoder`), and owns the connection's life:
/// - **Pipelining**: answers go out in request order. Most answers are made synchronously; while
///   one is deferred (a directory listing read off the loop), later request parts are queued and
///   reading stops until it is written.
/// - **Backpressure**: while the socket is not writable, reading stops, so a client that pipelines
///   requests without reading the answers cannot make us queue without bound.
/// - **Keep-alive**: per the request (`Connection`, HTTP/1.0 vs 1.1); 400/414/431/5xx close.
/// - **Timeouts** are the `ConnectionTimer`'s: this handler reports reads and writability to it,
///   asks it before each `read` (slow heads are paced), and tells it where requests begin and end
///   (`ConnectionEvent`).
/// - **Limits**: `max_body_bytes` (413, then close), `max_requests_per_connection`.
/// - **Tunnels**: a proxied request offering to switch protocols (a WebSocket handshake) holds
///   what follows it undecoded, and reads, until its answer: a 101 makes the connection a tunnel
///   (bytes to the upstream as they come, `ProxySession`); any other answer lets the held bytes
///   be decoded as the next requests.
/// - **Malformed requests** get 400, or 414/431 for an oversized head, then close; a request
///   already answered (an early proxied answer, a 413) gets no second answer: it just closes.
/// An error here closes this connection only.
final class HTTPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    let state: ServerState
    private let listener: XPSConfig.Listener
    let timeouts: ConnectionTimer
    private var decoder: RequestDecoder
    /// The TCP peer; the request's client may differ behind a trusted proxy (`ClientAddress`).
    var peer: IPAddress?
    /// The peer as text (for `X-Forwarded-For` and the access log), made at first use.
    lazy var peerText: String = peer?.description ?? "-"
    /// A request's head has arrived and its end has not.
    private var readingRequest = false
    /// A deferred response is being produced; request parts wait in `queue`.
    var waiting = false
    private var queue = CircularBuffer<RequestPart>()
    private var queuedError: RequestHeadParser.Failure?
    private var readSuppressed = false
    /// The socket takes more writes (kept from writability events, not asked per read).
    var writable = true
    var closing = false
    /// Shutdown asked us to finish: the current response (if any) is the last.
    var quiescing = false
    var writesInFlight = 0
    private lazy var statsEnabled = state.current.config.source.statsEnabled
    /// `max_requests_per_connection` as it was when the connection opened.
    lazy var maxRequests = state.current.config.limits.maxRequestsPerConnection
    /// When the current request's head arrived (for the latency histograms).
    private var requestStart: UInt64 = 0
    /// The current request is counted in `req_current` (from its head until it is answered, or
    /// the connection ends without an answer).
    private var requestInFlight = false
    /// Requests answered on this connection (for `max_requests_per_connection`).
    var served = 0
    /// Body bytes of the current request so far, and its limit.
    private var bodyBytes = 0
    private var bodyLimit: Int?
    /// The route the current request went to: every answer to it counts there, the proxy's and
    /// the ones this handler makes (a 413, a bad body's 400) too.
    var requestRoute: TrafficStats?
    /// The current request's client, resolved once at its head (`ClientAddress`): every answer to
    /// that request (a 413, a bad body's 400) is its, not the proxy's.
    private var requestClient: IPAddress?
    /// The peer is a trusted proxy (`acl.trusted_proxies`), as of the request being dispatched.
    var peerTrusted = false
    private var accessCache = AccessDecisionCache()
    /// The snapshots this connection last read, and the versions they were read at.
    private var servingSnapshot: ServingSnapshot?
    private var servingVersion: UInt64 = .max
    private var accessSnapshot: AccessControl.Snapshot?
    private var accessVersion: UInt64 = .max

    /// This connection's listener's id in `servingSnapshot`'s config.
    private var listenerID = -1

    func currentServing() -> ServingSnapshot {
        let v = state.generation.load(ordering: .acquiring)
        if v != servingVersion || servingSnapshot == nil {
            let snapshot = state.current
            servingSnapshot = snapshot
            servingVersion = v
            listenerID = snapshot.config.listenerIDs[listener] ?? -1
        }
        return servingSnapshot!
    }

    private func currentAccess() -> AccessControl.Snapshot {
        let v = state.access.version.load(ordering: .acquiring)
        if v != accessVersion || accessSnapshot == nil {
            accessSnapshot = state.access.snapshot
            accessVersion = v
        }
        return accessSnapshot!
    }
    var context: ChannelHandlerContext?
    /// A non-proxy request's answer, decided at its head, sent at its end.
    private var pendingAnswer: (result: RequestDispatcher.Result, head: HTTPRequestHead, client: IPAddress?, snapshot: ServingSnapshot)?
    /// The proxied request in progress, and whether its request has been fully read.
    var proxy: ProxySession?
    var proxyRequestEnded = false
    var proxyRequest: RequestHeadParser.Parsed?
    var proxyClient: IPAddress?
    var proxyBytes = 0
    /// The storage of the last upstream request head (see `startProxy`).
    var requestBuffer = ByteBuffer()
    /// This loop's idle upstream connections.
    var pool: UpstreamConnectionPool?
    /// This loop's deferred flushes.
    var flusher: LoopFlusher?
    /// The answer went out before the request was fully read: drop its remaining parts.
    var discardingRequest = false
    /// A proxied request offering to switch protocols waits for its answer: what follows it is
    /// held (`RequestDecoder.releaseHeld`: `heldByDecoder` once the decoder holds it, at the
    /// request's end), and so are reads.
    var upgradePending = false
    var heldByDecoder = false
    /// The request being processed came from `queue` (pipelined behind a deferred answer, so
    /// what followed it has been decoded already: it cannot become a tunnel).
    private(set) var processingQueued = false
    /// The upstream switched protocols: the client's bytes go to it as they come.
    private var tunnel = false
    /// A tunnel's latency, the time to its 101 (its request is counted when it ends).
    private var tunnelMicros: Int?
    /// The access list's version a tunnel's client was last checked against (`tunnelDenied`).
    private var tunnelAccessVersion: UInt64 = 0
    /// The access list came to deny the tunnel's client: nothing more goes either way.
    private var tunnelClientDenied = false

    init(state: ServerState, listener: XPSConfig.Listener, limits: RequestHeadParser.Limits, timeouts: ConnectionTimer) {
        decoder = RequestDecoder(limits: limits)
        self.timeouts = timeouts
        self.state = state
        self.listener = listener
    }

    // MARK: life cycle

    func channelActive(context: ChannelHandlerContext) {
        timeouts.activate()
        if let remote = context.channel.remoteAddress { peer = IPAddress(remote) }
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pool = state.pools?.get(context.eventLoop)
        flusher = state.flushers?.get(context.eventLoop)
        timeouts.attach(context)
    }
    func handlerRemoved(context: ChannelHandlerContext) {
        timeouts.detach()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeouts.detach()
        if let session = proxy {
            // Gone first: logged with the status it was getting, or 499 before the answer began (as nginx).
            recordProxied(status: session.status > 0 ? session.status : Self.clientClosedRequest, headBytes: session.headBytes)
            session.cancel()
        }
        proxy = nil
        dropPendingAnswer()
        _ = requestEnded()  // gone before its answer
        context.fireChannelInactive()
    }

    /// Takes the current request out of `req_current`; whether it was in.
    func requestEnded() -> Bool {
        guard requestInFlight else { return false }
        requestInFlight = false
        state.stats.reqCurrent.add(-1, ordering: .relaxed)
        return true
    }

    // MARK: reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if timeouts.lingering { return }  // after a 408: input is dropped
        var buffer = unwrapInboundIn(data)
        let readAt = timeouts.bytesRead(buffer.readableBytes)
        defer { timeouts.afterRead(now: readAt) }
        if tunnel {
            if tunnelDenied() {
                context.close(promise: nil)  // (its bytes are dropped)
                return
            }
            proxy?.clientBody(buffer)
            return
        }
        decodeInput(&buffer, context: context)
    }

    @inline(__always)
    private func decodeInput(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        do {
            try decoder.decode(&buffer, deliver: { part in
                if waiting || closing {
                    if !closing { queue.append(consume part) }
                    return
                }
                process(consume part, context: context)
            }, holdAfterEnd: {
                if upgradePending { heldByDecoder = true }
                return upgradePending
            })
        } catch {
            // Behind a deferred answer, the parts before the error are queued: so is the error.
            if waiting {
                queuedError = error
            } else {
                requestFailed(error, context: context)
            }
        }
    }

    /// The decoder refused what follows the parts processed so far: the body of the request
    /// being read (then the answer is that request's, logged under its request line) or the next
    /// head. One answer per request: one already answered (its upstream answered before its body
    /// ended, or a 413) gets no second one, which a pipelining client would take as its next
    /// request's; the connection just closes, as nginx's does (the next request's start cannot be
    /// found).
    private func requestFailed(_ error: RequestHeadParser.Failure, context: ChannelHandlerContext) {
        if discardingRequest {
            if !closing { closeAfterWrites(context: context) }
            return
        }
        let current = readingRequest ? currentRequestHead : nil
        dropPendingAnswer()  // (the 400 answers it instead)
        // A proxied one ends here (its answer, if it had begun, cannot be followed by the 400).
        if let session = proxy, !proxyRequestEnded {
            if proxyBytes > 0 {
                proxyAbort(status: session.status, headBytes: session.headBytes)
                session.cancel()
                return
            }
            session.cancel()
            proxy = nil
            proxyRequest = nil
        }
        if !closing { sendParserError(error, for: current, context: context) }
    }

    /// NIO's head of the request whose body is being read (proxied, or waiting for its answer),
    /// for an answer that cuts it short. Built on each call (error paths only).
    private var currentRequestHead: HTTPRequestHead? { proxyRequest?.head ?? pendingAnswer?.head }

    /// The answer decided at the head of the request being read will not be sent (the client
    /// left, its body went bad or was too large): a file it opened is closed.
    private func dropPendingAnswer() {
        pendingAnswer?.result.discard()
        pendingAnswer = nil
    }

    /// (Parts are moved, from the decoder to `proxyRequest`: a head holds several references.)
    private func process(_ part: consuming RequestPart, context: ChannelHandlerContext) {
        switch consume part {
        case .head(let parsed):
            readingRequest = true
            bodyBytes = 0
            timeouts.event(.headComplete(hasBody: parsed.framing != nil))
            requestStart = NIODeadline.now().uptimeNanoseconds
            requestInFlight = true
            state.stats.reqCurrent.add(1, ordering: .relaxed)
            dispatch(consume parsed, context: context)
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            if let limit = bodyLimit, bodyBytes > limit {
                if discardingRequest {
                    closeAfterWrites(context: context)  // answered already: no second answer
                } else {
                    bodyTooLarge(context: context, head: currentRequestHead)
                }
                return
            }
            // Proxied bodies stream to the upstream; file_serve and redirect ignore bodies (the
            // decoder keeps the framing).
            if let proxy, !discardingRequest { proxy.clientBody(buffer) }
        case .end:
            timeouts.event(.requestComplete)
            readingRequest = false
            if discardingRequest {
                discardingRequest = false
            } else if let proxy {
                proxyRequestEnded = true
                waiting = true  // later requests wait for the proxied answer
                proxy.clientEnd()
            } else if let answer = pendingAnswer {
                pendingAnswer = nil
                deliver(answer.result, for: answer.head, client: answer.client, snapshot: answer.snapshot, context: context)
            }
        }
    }

    /// Reading pauses when the socket is not writable, when a proxied request's upstream cannot
    /// take more, or when pipelined requests pile up behind a deferred answer. (Not merely while
    /// an answer is deferred: toggling read interest for every proxied request costs two
    /// `epoll_ctl` calls each time.) While it pauses for the upstream, the client's body deadline
    /// is suspended (`ConnectionTimer.bodyHeld`): the client is waiting for us.
    func read(context: ChannelHandlerContext) {
        if timeouts.lingering {  // closing: input is read and dropped
            context.read()
            return
        }
        let upstreamFull = proxy?.blocksClientReads == true
        if queue.count >= Self.maxQueuedParts || !writable || upstreamFull || upgradePending {
            readSuppressed = true
            timeouts.bodyHeld(upstreamFull)
            return
        }
        if timeouts.holdsRead() { return }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        timeouts.writabilityChanged(writable: writable)
        proxy?.clientWritabilityChanged()
        resumeReadingIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    func resumeReadingIfPossible(context: ChannelHandlerContext) {
        let upstreamFull = proxy?.blocksClientReads == true
        // Held for the upstream (whatever else holds it), or no longer: the body deadline follows.
        timeouts.bodyHeld(readSuppressed && upstreamFull)
        if readSuppressed && queue.count < Self.maxQueuedParts && writable && !upstreamFull && !upgradePending {
            readSuppressed = false
            if !timeouts.holdsRead() { context.read() }  // (a paused slow head reads when its pause ends)
        }
    }

    // MARK: dispatch

    /// Decides the request at its head: a proxied request starts at once (its body streams); any
    /// other answer is kept until the request's end.
    private func dispatch(_ parsed: consuming RequestHeadParser.Parsed, context: ChannelHandlerContext) {
        // NIO's form of the head, built only when an answer needs it (not for proxying).
        var head: HTTPRequestHead?
        let snapshot = currentServing()
        let access = currentAccess()
        let client: IPAddress?
        if let p = peer, access.isTrustedProxy(p) {
            let built = parsed.head
            head = built
            client = ClientAddress.resolve(peer: p, forwardedFor: built.headers["x-forwarded-for"], trusted: access.trusted)
            peerTrusted = true
        } else {
            client = peer
            peerTrusted = false
        }
        requestClient = client
        var decision = client.map { accessCache.decision(for: $0, in: access) } ?? .noMatch
        // (A ban decided at an earlier answer and not in the table yet refuses as its entry will.)
        if case .noMatch = decision, let client, state.access.banPending(client) { decision = .deny(entry: -1) }
        let (result, matched) = state.dispatcher.dispatch(
            request: parsed, head: &head, config: snapshot.config, listener: listenerID, client: client, peer: peer, access: access,
            globalDecision: decision, eventLoop: context.eventLoop)
        // The route's limit (which already folds in the top-level one), or the top level's.
        bodyLimit = matched.map { $0.maxBodyBytes } ?? snapshot.config.limits.maxBodyBytes
        requestRoute = matched?.stats
        if let limit = bodyLimit, let length = parsed.length, length > limit {
            result.discard()
            bodyTooLarge(context: context, head: head ?? parsed.head)  // the final answer instead of 100 Continue
            return
        }
        if parsed.expectsContinue {
            // The client waits for this before it sends the body (RFC 9110 §10.1.1).
            var bytes = context.channel.allocator.buffer(capacity: 25)
            bytes.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
            recordBytesSent(bytes.readableBytes, route: matched?.stats)  // (every byte counts, interim answers too)
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        }
        if case .proxy(let route) = result {
            startProxy(route, parsed: consume parsed, client: client, context: context)
        } else {
            pendingAnswer = (result, head ?? parsed.head, client, snapshot)
        }
    }

    private func deliver(
        _ result: RequestDispatcher.Result, for head: HTTPRequestHead, client: IPAddress?, snapshot: ServingSnapshot,
        context: ChannelHandlerContext
    ) {
        switch result {
        case .proxy:
            break  // started at the head
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

    /// The upstream switched protocols: what the client sent after its request goes first.
    func proxyUpgraded() {
        upgradePending = false
        tunnel = true
        tunnelAccessVersion = accessVersion  // (what its request was decided with)
        tunnelMicros = Int((NIODeadline.now().uptimeNanoseconds &- requestStart) / 1000)
        if heldByDecoder {
            heldByDecoder = false
            if let held = decoder.releaseHeld(), held.readableBytes > 0 { proxy?.clientBody(held) }
        }
        if let context { resumeReadingIfPossible(context: context) }
    }

    /// Asked before bytes go through a tunnel, either way: whether its client is denied by an
    /// access-list change made since it was last checked (`expctl acl deny`). Then nothing more
    /// goes, the tunnel closes (the caller closes it) and the refusal counts as a hit of the
    /// entry, as the next request of a kept-alive connection would be refused. (A tunnel silent
    /// both ways ends within `upstream_read_ms` anyway.)
    func tunnelDenied() -> Bool {
        guard tunnel else { return false }
        if tunnelClientDenied { return true }
        let version = state.access.version.load(ordering: .acquiring)
        guard version != tunnelAccessVersion else { return false }
        tunnelAccessVersion = version
        let access = currentAccess()
        guard let client = requestClient, case .deny(let entry) = accessCache.decision(for: client, in: access) else { return false }
        access.hits.increment(entry)
        tunnelClientDenied = true
        return true
    }

    /// The answer to a request offering to switch protocols was an ordinary one: what followed
    /// it is decoded now, as the next requests. (An answer made at the request's head, such as a
    /// 502 with no upstream to try, comes before the decoder holds anything, and while it is
    /// still decoding: it is not touched then.)
    func upgradeRefused(context: ChannelHandlerContext) {
        upgradePending = false
        guard heldByDecoder else { return }
        heldByDecoder = false
        if var held = decoder.releaseHeld() { decodeInput(&held, context: context) }
    }

    func drainQueue(context: ChannelHandlerContext) {
        while !waiting && !closing, let part = queue.popFirst() {
            processingQueued = true
            process(part, context: context)
            processingQueued = false
        }
        if !waiting && !closing, let error = queuedError {
            queuedError = nil
            requestFailed(error, context: context)
        }
        resumeReadingIfPossible(context: context)
    }

    /// 413 (answering `head`), then close: the rest of the body is not read.
    private func bodyTooLarge(context: ChannelHandlerContext, head: HTTPRequestHead?) {
        if let session = proxy, proxyBytes > 0 {
            // The upstream's answer is already on its way: a 413 cannot follow it.
            proxyAbort(status: session.status, headBytes: session.headBytes)
            session.cancel()
            return
        }
        if let proxy {
            self.proxy = nil
            proxyRequest = nil
            proxy.cancel()
        }
        dropPendingAnswer()
        discardingRequest = true
        waiting = false
        var r = Response.status(.payloadTooLarge)
        r.closeAfter = true
        r.routeStats = requestRoute
        send(r, for: head, client: requestClient, snapshot: state.current, context: context)
    }

    /// Counts one answered request (overall, generated-by-us, per route, top clients) and the
    /// `bytes` that went to the client for it, head included. (An answer to bytes that never made
    /// a request, such as a malformed head, has no latency.)
    func record(status: UInt, bytes: Int, generated: Bool, route: TrafficStats?, client: IPAddress?) {
        let counted = requestEnded()
        guard statsEnabled else { return }
        let stats = state.stats
        let micros = counted ? tunnelMicros ?? Int((NIODeadline.now().uptimeNanoseconds &- requestStart) / 1000) : 0
        let stripe = Stripes.current()
        stats.all.record(status: status, bytes: bytes, micros: micros, stripe: stripe)
        if generated { stats.generated.record(status: status, bytes: bytes, micros: micros, stripe: stripe) }
        route?.record(status: status, bytes: bytes, micros: micros, stripe: stripe)
        if let client { stats.clients.record(client, is4xx: status >= 400 && status < 500, stripe: stripe) }
    }

    /// Bytes of an answer of ours counted apart from its request: a file's or stream's body once
    /// it has gone, an interim 100 Continue.
    func recordBytesSent(_ bytes: Int, route: TrafficStats?) {
        guard statsEnabled else { return }
        let stats = state.stats
        let stripe = Stripes.current()
        stats.all.add(bytes: bytes, stripe: stripe)
        stats.generated.add(bytes: bytes, stripe: stripe)
        route?.add(bytes: bytes, stripe: stripe)
    }

    /// Request parts queued behind a deferred answer before reading pauses.
    static let maxQueuedParts = 16

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
        if !readingRequest && !waiting && writesInFlight == 0 {
            closeAfterWrites(context: context)  // idle between requests
        }
    }

    /// Closes the connection once everything already written has gone out; nothing more is read
    /// or answered.
    func closeAfterWrites(context: ChannelHandlerContext) {
        closing = true
        timeouts.event(.closing)  // (a client that takes nothing more gets send_ms, then the close)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0)))).whenComplete { _ in
            let (handler, context) = bound.value
            handler.closeAfterAnswer(context: context)
        }
    }

    /// Closes the connection once its answers are out: with a lingering close while the body of
    /// the request being read is still coming (a 413, an early or failed proxied answer), or at
    /// a tunnel's end: the client may be sending, and a close with input unread would reset the
    /// connection, which can destroy the answer (or the tunnel's last bytes) before the client
    /// reads it (`ConnectionTimer.lingeringClose`).
    func closeAfterAnswer(context: ChannelHandlerContext) {
        if (readingRequest || tunnel) && context.channel.isActive {
            timeouts.lingeringClose(context: context)
        } else {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// `head`: the request whose body was malformed, if it was one (its route counts the answer;
    /// nil: bytes that never made a request, which are the peer's).
    private func sendParserError(_ error: RequestHeadParser.Failure, for head: HTTPRequestHead? = nil, context: ChannelHandlerContext) {
        var r = Response.status(error.status)
        if head != nil { r.routeStats = requestRoute }
        send(r, for: head, client: head == nil ? peer : requestClient, snapshot: state.current, context: context)
    }
}
