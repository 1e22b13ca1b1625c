import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// What a proxy session needs from the client connection it answers.
protocol ProxyClient: AnyObject {
    var clientWritable: Bool { get }
    func proxyWrite(_ buffer: ByteBuffer)
    func proxyFlush()
    /// Nothing was sent yet: answer with this canned response (502/504).
    func proxyRespond(_ response: Response)
    /// The response is complete.
    func proxyDone(closeClient: Bool)
    /// The response had started and cannot be completed: close the client connection.
    func proxyAbort()
    func proxyResumeClientReads()
}

/// One proxied request, confined to the client connection's event loop (so is everything it
/// touches: its upstream connection is opened on the same loop).
///
/// Upstream choice and failures: the route's balancer picks an upstream not tried yet. A connect
/// error or timeout moves on to the next (up to `retries` more; default all), as does an
/// idempotent request whose upstream fails before any response byte, if no request body was
/// sent. When every try failed: 502, or 504 if the last failure was a timeout. A read timeout
/// before the response is 504; once the response has started, any failure closes the client.
/// Each failure counts toward the upstream's passive health (`max_fails` / `fail_timeout_ms`).
///
/// Streaming: request body parts go to the upstream as they come (buffered up to 1 MiB only while
/// connecting; client reads pause past that, and whenever the upstream is not writable). Response
/// parts go to the client as they come; upstream reads pause while the client is not writable.
/// Framing to the client: the upstream's Content-Length when it has one; otherwise chunked for
/// HTTP/1.1 clients and close-delimited for HTTP/1.0. Upstream connections are reused from the
/// loop's pool when the response allows it.
final class ProxySession {
    let route: ProxyRoute
    let request: HTTPRequestHead
    let client: IPAddress?
    let clientKeepAlive: Bool
    let clientHTTP11: Bool
    let eventLoop: EventLoop
    let pool: UpstreamConnectionPool?
    /// Strong, and dropped when the session finishes (the client handler drops the session then
    /// too): weak references would put the handler on the slow reference-counting path.
    var owner: ProxyClient?

    private var tried = Set<Int>()
    private var member: UpstreamGroup.Member?
    private var upstream: Channel?
    private var handler: UpstreamHandler?
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0
    private var clientEnded = false
    private var bodySent = false
    /// A request head has been written to an upstream (this attempt or an earlier one).
    private var headSent = false
    private var responseStarted = false
    private var noResponseBody = false
    private var chunked = false
    private var closeClient = false
    private var upstreamKeepAlive = false
    private var readTimer: Scheduled<Void>?
    /// When the upstream last sent something; the read timer checks it when it fires instead of
    /// being re-armed on every read (scheduling a task per read is costly).
    private var lastUpstreamRead: UInt64 = 0
    private var lastFailureWasTimeout = false
    private var finished = false
    private var sentAt: UInt64 = 0
    static let maxPending = 1 << 20
    /// `gzip_proxied`: the response is being compressed, piece by piece on the thread pool, in order.
    private var gzip: GzipStream?
    private var compression: EventLoopFuture<Void>?
    private var compressing = 0
    let threadPool: NIOThreadPool?
    let acceptEncoding: String?

    init(route: ProxyRoute, head: HTTPRequestHead, client: IPAddress?, eventLoop: EventLoop, pool: UpstreamConnectionPool?, owner: ProxyClient,
         threadPool: NIOThreadPool? = nil) {
        self.threadPool = threadPool
        acceptEncoding = head.headers.first(name: "accept-encoding")
        self.route = route
        self.request = ProxyHeaders.request(head, client: client)
        self.client = client
        self.clientKeepAlive = head.isKeepAlive
        self.clientHTTP11 = head.version.minor >= 1
        self.eventLoop = eventLoop
        self.pool = pool
        self.owner = owner
        noResponseBody = head.method == .HEAD
    }

    var clientCanTakeMore: Bool { (owner?.clientWritable ?? false) && compressing < 4 }
    /// Client reads pause while this is true.
    var blocksClientReads: Bool {
        if upstream == nil { return pendingBytes >= Self.maxPending }
        return !(upstream?.isWritable ?? true)
    }

    private var isIdempotent: Bool {
        switch request.method {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: return true
        default: return false
        }
    }

    // MARK: choosing and connecting

    func start() { attempt() }

    private func attempt() {
        let retriesLeft = route.retries.map { tried.count <= $0 } ?? true
        guard !finished, retriesLeft, let index = route.group.pick(client: client, excluding: tried) else {
            fail(lastFailureWasTimeout ? .gatewayTimeout : .badGateway)
            return
        }
        tried.insert(index)
        let m = route.group.members[index]
        member = m
        m.state.inFlight.add(1, ordering: .relaxed)
        m.state.requests.add(1, ordering: .relaxed)
        if let channel = pool?.take(m.state.address) {
            attach(channel)
            return
        }
        let timeout = TimeAmount.milliseconds(Int64(route.timeouts.upstreamConnectMs))
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: m.config.host, port: m.config.port)
            .hop(to: eventLoop)
            .whenComplete { result in bound.value.connected(result) }
    }

    private func connected(_ result: Result<Channel, Error>) {
        switch result {
        case .success(let channel):
            if finished {
                channel.close(promise: nil)
            } else {
                attach(channel)
            }
        case .failure(let error):
            let timedOut: Bool
            if case ChannelError.connectTimeout = error { timedOut = true } else { timedOut = false }
            attemptFailed(timedOut: timedOut)
        }
    }

    private func attach(_ channel: Channel) {
        guard let h = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
            channel.close(promise: nil)
            attemptFailed(timedOut: false)
            return
        }
        upstream = channel
        handler = h
        h.onIdleClose = nil
        h.session = self
        headSent = true
        channel.write(HTTPClientRequestPart.head(request), promise: nil)
        for part in pending {
            bodySent = true
            channel.write(HTTPClientRequestPart.body(.byteBuffer(part)), promise: nil)
        }
        if clientEnded { channel.write(HTTPClientRequestPart.end(nil), promise: nil) }
        channel.flush()
        sentAt = NIODeadline.now().uptimeNanoseconds
        armReadTimer()
        if pendingBytes >= Self.maxPending { owner?.proxyResumeClientReads() }
    }

    /// The current attempt failed before any response byte: count it, then retry or answer.
    private func attemptFailed(timedOut: Bool) {
        lastFailureWasTimeout = timedOut
        release(failed: true)
        if !finished && !bodySent && (isIdempotent || upstreamNeverReached) {
            attempt()
        } else {
            fail(timedOut ? .gatewayTimeout : .badGateway)
        }
    }

    /// True while no byte of the request has reached an upstream (connect failures).
    /// (Not `upstream == nil`: `upstreamClosed` clears `upstream` before reporting the failure.)
    private var upstreamNeverReached: Bool { !headSent }

    private func release(failed: Bool) {
        readTimer?.cancel()
        readTimer = nil
        if let channel = upstream {
            handler?.session = nil
            upstream = nil
            handler = nil
            if failed { channel.close(promise: nil) }
        }
        if let m = member {
            m.state.inFlight.add(-1, ordering: .relaxed)
            if failed {
                m.state.recordFailure(
                    now: Date().timeIntervalSince1970, maxFails: m.config.maxFails, failTimeout: Double(m.config.failTimeoutMs) / 1000)
            }
            member = nil
        }
    }

    private func fail(_ status: HTTPResponseStatus) {
        guard !finished else { return }
        finished = true
        owner?.proxyRespond(.status(status))
        owner = nil
    }

    // MARK: client side

    func clientBody(_ buffer: ByteBuffer) {
        if let channel = upstream {
            bodySent = true
            channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        } else {
            pending.append(buffer)
            pendingBytes += buffer.readableBytes
        }
    }

    func clientEnd() {
        clientEnded = true
        upstream?.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// The client went away: drop the upstream request.
    func cancel() {
        owner = nil
        guard !finished else { return }
        finished = true
        let channel = upstream
        release(failed: false)
        channel?.close(promise: nil)
    }

    func clientWritabilityChanged() {
        if clientCanTakeMore { handler?.resume() }
    }

    func upstreamWritabilityChanged() {
        if !blocksClientReads { owner?.proxyResumeClientReads() }
    }

    // MARK: upstream side

    private func armReadTimer() {
        lastUpstreamRead = NIODeadline.now().uptimeNanoseconds
        guard readTimer == nil else { return }
        schedule(in: .milliseconds(Int64(route.timeouts.upstreamReadMs)))
    }

    private func schedule(in delay: TimeAmount) {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        readTimer = eventLoop.scheduleTask(in: delay) { bound.value.readTimerFired() }
    }

    private func readTimerFired() {
        readTimer = nil
        guard !finished, upstream != nil else { return }
        let limit = UInt64(route.timeouts.upstreamReadMs) * 1_000_000
        let idle = NIODeadline.now().uptimeNanoseconds &- lastUpstreamRead
        if idle < limit {
            schedule(in: .nanoseconds(Int64(limit - idle)))
            return
        }
        readTimedOut()
    }

    private func readTimedOut() {
        guard !finished else { return }
        if responseStarted {
            finished = true
            release(failed: true)
            owner?.proxyAbort()
            owner = nil
        } else {
            lastFailureWasTimeout = true
            release(failed: true)
            fail(.gatewayTimeout)
        }
    }

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard !finished, let owner else { return }
        armReadTimer()
        switch part {
        case .head(let head):
            responseStarted = true
            upstreamKeepAlive = head.isKeepAlive
            let code = head.status.code
            if code < 200 || code == 204 || code == 304 { noResponseBody = true }
            var headers = ProxyHeaders.response(head.headers)
            if shouldCompress(head, headers), let gz = try? GzipStream(level: route.gzipLevel) {
                gzip = gz
                headers.remove(name: "content-length")
                headers.add(name: "Content-Encoding", value: "gzip")
                headers.add(name: "Vary", value: "Accept-Encoding")
            }
            if !noResponseBody && !headers.contains(name: "content-length") {
                if clientHTTP11 { chunked = true } else { closeClient = true }
            }
            if !clientKeepAlive { closeClient = true }
            // The upstream's `Connection: close` reaches the client as sent, and the client connection
            // closes after this response, as eXpServer relays it (a client comparing the proxied
            // headers with the upstream's, compat C10, sees the same value).
            if head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) { closeClient = true }
            if chunked { headers.add(name: "Transfer-Encoding", value: "chunked") }
            if closeClient { headers.add(name: "Connection", value: "close") }
            owner.proxyWrite(ResponseEncoder.encodeProxiedHead(status: head.status, headers: headers))
        case .body(let buffer) where gzip != nil:
            let gz = gzip!
            compress { try gz.feed(buffer) }
        case .end where gzip != nil:
            let gz = gzip!
            compress { try gz.finish() }
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            compression?.whenComplete { result in
                let session = bound.value
                guard case .success = result else {
                    session.owner?.proxyAbort()
                    session.owner = nil
                    return
                }
                session.gzip = nil
                session.upstreamRead(.end(nil))
            }
            // The upstream side is done now: give the connection back while compression finishes.
            finishUpstream()
        case .body(let buffer):
            writeBody(buffer)
        case .end:
            readTimer?.cancel()
            readTimer = nil
            if chunked { owner.proxyWrite(ChunkedEncoding.last(allocator: ByteBufferAllocator())) }
            finished = true
            finishUpstream()
            owner.proxyDone(closeClient: closeClient)
            self.owner = nil
        }
    }

    /// The upstream response is complete: record it, and pool or close its connection.
    private func finishUpstream() {
        guard let m = member else { return }
        m.state.latency.record(micros: Int((NIODeadline.now().uptimeNanoseconds &- sentAt) / 1000))
        let channel = upstream
        let reusable = upstreamKeepAlive && clientEnded && channel?.isActive == true
        let address = m.state.address
        release(failed: false)
        guard let channel else { return }
        if reusable, let pool, let h = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) {
            let id = ObjectIdentifier(channel)
            h.onIdleClose = { pool.remove(id, address: address) }
            pool.put(channel, address: address, limit: route.upstreamKeepalive)
        } else {
            channel.close(promise: nil)
        }
    }

    /// `gzip_proxied` applies: the client accepts gzip, the upstream did not encode the body, and
    /// its type and size qualify (compat's policy for static files, `CompressionPolicy`).
    private func shouldCompress(_ head: HTTPResponseHead, _ headers: HTTPHeaders) -> Bool {
        guard let policy = route.gzip, threadPool != nil, !noResponseBody, head.status == .ok,
            !headers.contains(name: "content-encoding")
        else { return false }
        let type = headers.first(name: "content-type").map { String($0.split(separator: ";")[0]).trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let size = headers.first(name: "content-length").flatMap(Int.init) ?? Int.max
        let cc = headers.first(name: "cache-control")
        return policy.shouldCompress(contentType: type, size: size, acceptEncoding: acceptEncoding, isRange: false, cacheControl: cc)
    }

    /// Runs one compression step on the thread pool after the previous one, then writes its output.
    private func compress(_ work: @escaping @Sendable () throws -> ByteBuffer) {
        guard let threadPool else { return }
        compressing += 1
        let loop = eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let previous = compression ?? loop.makeSucceededVoidFuture()
        compression = previous.flatMap {
            threadPool.runIfActive(eventLoop: loop, work)
        }.map { out in
            let session = bound.value
            session.compressing -= 1
            if out.readableBytes > 0 { session.writeBody(out) }
            session.handler?.resume()
        }
    }

    /// Writes a body piece to the client, chunk-framed when the response is chunked.
    private func writeBody(_ buffer: ByteBuffer) {
        guard let owner else { return }
        owner.proxyWrite(chunked ? ChunkedEncoding.chunk(buffer, allocator: ByteBufferAllocator()) : buffer)
        owner.proxyFlush()
    }

    func upstreamClosed(error: Error?) {
        guard !finished else { return }
        upstream = nil  // already closing
        handler = nil
        if responseStarted {
            finished = true
            release(failed: true)
            owner?.proxyAbort()
            owner = nil
        } else {
            attemptFailed(timedOut: false)
        }
    }
}
