import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// What a proxy session needs from the client connection it answers.
protocol ProxyClient: AnyObject {
    var clientWritable: Bool { get }
    /// The client connection closes after this answer whatever the request asked (a graceful
    /// stop, or its listener removed by a reload, since the request began).
    var clientClosing: Bool { get }
    func proxyWrite(_ buffer: ByteBuffer)
    func proxyFlush()
    /// Nothing was sent yet: answer with this canned response (502/504).
    func proxyRespond(_ response: Response)
    /// The response (upstream status `status`, a head of `headBytes`) is complete.
    func proxyDone(closeClient: Bool, status: Int, headBytes: Int)
    /// The response (upstream status `status`, a head of `headBytes`) had started and cannot be
    /// completed: close the client connection.
    func proxyAbort(status: Int, headBytes: Int)
    func proxyResumeClientReads()
    /// The upstream switched protocols (its 101 is written): from now on the client's bytes go
    /// to `clientBody` as they come, undecoded.
    func proxyUpgraded()
}

/// One proxied request, confined to the client connection's event loop (so is everything it
/// touches: its upstream connection is opened on the same loop).
///
/// Upstream choice and failures: the route's balancer picks an upstream not tried yet. A connect
/// error or timeout moves on to the next (up to `retries` more; default all), as does an
/// idempotent request whose upstream fails before any response byte (closes, answers nonsense,
/// or stays silent for `upstream_read_ms`, as nginx's `proxy_next_upstream error timeout`), if
/// no request body was sent. When every try failed: 502, or 504 if the last failure was a
/// timeout; once the response has started, any failure closes the client.
/// Each failure counts toward the upstream's passive health (`max_fails` / `fail_timeout_ms`).
/// A kept-alive connection that turns out closed before answering is not the upstream's
/// failure: the request goes again on a new connection to the same upstream (idempotent ones).
///
/// The bytes: the request head is encoded once (`ProxyHeaders`); the response is relayed as the
/// upstream sent it (`UpstreamResponseParser`), with what one upstream read produced gathered
/// into one client write when it is small.
///
/// Streaming: request body parts go to the upstream as they come (buffered up to 1 MiB only while
/// connecting; client reads pause past that, and whenever the upstream is not writable). Response
/// parts go to the client as they come; upstream reads pause while the client is not writable.
/// Framing to the client: the upstream's Content-Length when it has one; otherwise chunked for
/// HTTP/1.1 clients and close-delimited for HTTP/1.0. Upstream connections are reused from the
/// loop's pool when the response allows it.
///
/// Tunnels: a request that offers to switch protocols (`Parsed.upgrade`, a WebSocket handshake)
/// goes upstream with its offer; an upstream that accepts (101) gets the client's bytes as they
/// come from then on and its own go to the client, with backpressure both ways as above, until
/// either side closes or `upstream_read_ms` passes with no byte either way (then both close, the
/// request logged with 101 and the bytes the client got). Any other answer is an ordinary one.
final class ProxySession {
    let route: ProxyRoute
    let client: IPAddress?
    let clientKeepAlive: Bool
    let clientHTTP11: Bool
    let isHead: Bool
    let isIdempotent: Bool
    /// The request offers to switch protocols.
    let upgrade: Bool
    /// The upstream accepted (101): bytes flow both ways as they come.
    private(set) var tunneling = false
    /// The encoded request head, and whether its body goes chunk-framed.
    let requestHead: ByteBuffer
    let requestChunked: Bool
    let eventLoop: EventLoop
    let pool: UpstreamConnectionPool?
    let flusher: LoopFlusher?
    /// Strong, and dropped when the session finishes (the client handler drops the session then
    /// too): weak references would put the handler on the slow reference-counting path.
    var owner: ProxyClient?

    private var tried = UpstreamGroup.Tried()
    private var member: UpstreamGroup.Member?
    private var handler: UpstreamHandler?
    /// The current connection came from the pool (it may have been closed meanwhile).
    private var reusedConnection = false
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0
    private var clientEnded = false
    private var bodySent = false
    /// A request head has been written to an upstream (this attempt or an earlier one).
    private var headSent = false
    private var responseStarted = false
    private(set) var status = 0
    /// Bytes of the head written to the client.
    private(set) var headBytes = 0
    private var chunked = false
    private var closeClient = false
    private var upstreamKeepAlive = false
    private var lastFailureWasTimeout = false
    private var finished = false
    private var sentAt: UInt64 = 0
    /// Client bytes produced by the current upstream read, written together at its end.
    private var out: ByteBuffer?
    /// `out` is a response head's buffer, from this connection's parser: it goes back there once
    /// written, for the next head (`UpstreamHandler.recycle`).
    private var outFrom: UpstreamHandler?
    /// Something was written to the client (or gathered in `out`) since the last flush.
    private var unflushed = false
    static let maxPending = 1 << 20
    /// Body pieces up to this size are copied into `out`; larger ones are written as they are.
    static let gatherLimit = 4096
    /// `gzip_proxied`: the response is being compressed, piece by piece on the thread pool, in order.
    private var gzip: GzipStream?
    private var compression: EventLoopFuture<Void>?
    private var compressing = 0
    let threadPool: NIOThreadPool?
    let acceptEncoding: String?

    /// `request`: the client's request (its head parsed); `upstreamHead`: its head as it goes
    /// upstream (`ProxyHeaders.encodeRequest`); `lastOnConnection`: the client connection closes
    /// after this answer (`max_requests_per_connection`).
    init(route: ProxyRoute, request: borrowing RequestHeadParser.Parsed, upstreamHead: (bytes: ByteBuffer, chunked: Bool),
         client: IPAddress?, lastOnConnection: Bool = false, eventLoop: EventLoop, pool: UpstreamConnectionPool?,
         flusher: LoopFlusher? = nil, owner: ProxyClient, threadPool: NIOThreadPool? = nil) {
        self.threadPool = threadPool
        // (A client asking intermediaries not to transform the content gets it as it is.)
        acceptEncoding = route.gzip == nil || request.listValue(of: "cache-control")?.lowercased().contains("no-transform") == true
            ? nil : request.listValue(of: "accept-encoding")
        self.route = route
        (requestHead, requestChunked) = upstreamHead
        self.client = client
        self.clientKeepAlive = request.keepAlive && !lastOnConnection
        self.clientHTTP11 = request.version.minor >= 1
        isHead = request.method.isHEAD
        upgrade = request.upgrade
        switch request.method {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: isIdempotent = true
        default: isIdempotent = false
        }
        self.eventLoop = eventLoop
        self.pool = pool
        self.flusher = flusher
        self.owner = owner
    }

    var clientCanTakeMore: Bool { (owner?.clientWritable ?? false) && compressing < 4 }
    /// Client reads pause while this is true.
    var blocksClientReads: Bool {
        guard let handler else { return pendingBytes >= Self.maxPending }
        return !handler.isWritable
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
        let maxIdle = UInt64(route.timeouts.upstreamKeepaliveMs) * 1_000_000
        let now = NIODeadline.now().uptimeNanoseconds  // (one clock read for the pool, the timer and the latency)
        if let h = pool?.take(m.state.poolIndex, maxIdle: maxIdle, now: now) {
            reusedConnection = true
            attach(h, now: now)
            return
        }
        connect(m)
    }

    /// Opens a new connection to `m` for this request.
    private func connect(_ m: UpstreamGroup.Member) {
        reusedConnection = false
        let h = UpstreamHandler(pool: pool, key: m.state.poolIndex, flusher: flusher)
        let boundHandler = NIOLoopBound(h, eventLoop: eventLoop)
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(Int64(route.timeouts.upstreamConnectMs)))
            .channelInitializer { channel in
                // (TCP_NODELAY: ClientBootstrap sets it by default.)
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(boundHandler.value) }
            }
        let connecting = m.state.socketAddress.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: m.config.host, port: m.config.port)
        connecting.hop(to: eventLoop).whenComplete { result in
            let session = bound.value
            switch result {
            case .success(let channel):
                if session.finished { channel.close(promise: nil) } else { session.attach(boundHandler.value) }
            case .failure(let error):
                let timedOut: Bool
                if case ChannelError.connectTimeout = error { timedOut = true } else { timedOut = false }
                session.attemptFailed(timedOut: timedOut)
            }
        }
    }

    /// `now`: uptime nanoseconds, read just before.
    private func attach(_ h: UpstreamHandler, now: UInt64 = NIODeadline.now().uptimeNanoseconds) {
        handler = h
        h.begin(self, noBody: isHead, upgrade: upgrade, readTimeoutMs: route.timeouts.upstreamReadMs, sending: !clientEnded, now: now)
        headSent = true
        h.write(requestHead)
        let wasFull = pendingBytes >= Self.maxPending
        for part in pending {
            bodySent = true
            h.write(framed(part))
        }
        // Once part of a body has gone, the request is not tried again: nothing to keep.
        pending.removeAll()
        pendingBytes = 0
        if clientEnded && requestChunked { h.write(ChunkedEncoding.last(allocator: ByteBufferAllocator())) }
        h.flush()
        sentAt = now
        if wasFull { owner?.proxyResumeClientReads() }
    }

    /// A request body piece as it goes upstream.
    private func framed(_ part: ByteBuffer) -> ByteBuffer {
        requestChunked ? ChunkedEncoding.chunk(part, allocator: ByteBufferAllocator()) : part
    }

    /// The current attempt failed before any response byte: count it, then retry or answer.
    private func attemptFailed(timedOut: Bool) {
        lastFailureWasTimeout = timedOut
        release(failed: true)
        if !finished && !bodySent && (isIdempotent || !headSent) {
            attempt()
        } else {
            fail(timedOut ? .gatewayTimeout : .badGateway)
        }
    }

    /// Lets go of the upstream: its connection closed if `failed`, and the failure counted
    /// against it (passive health) unless `blameUpstream` is false. (An upstream that is its
    /// route's only one is never marked down by failures: nginx's rule; there is nowhere else to
    /// send the requests.)
    private func release(failed: Bool, blameUpstream: Bool = true) {
        if let h = handler {
            handler = nil
            h.end()
            if failed { h.close() }
        }
        if let m = member {
            m.state.inFlight.add(-1, ordering: .relaxed)
            if failed && blameUpstream {
                m.state.recordFailure(
                    now: Date().timeIntervalSince1970, maxFails: route.group.single ? 0 : m.config.maxFails,
                    failTimeout: Double(m.config.failTimeoutMs) / 1000)
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
        guard buffer.readableBytes > 0 else { return }
        if let h = handler {
            bodySent = true
            h.write(framed(buffer))
            h.flush()
            if tunneling { h.touch() }
        } else {
            pending.append(buffer)
            pendingBytes += buffer.readableBytes
        }
    }

    func clientEnd() {
        clientEnded = true
        guard let h = handler else { return }  // (attach sends it all)
        if requestChunked {
            h.write(ChunkedEncoding.last(allocator: ByteBufferAllocator()))
            h.flush()
        }
        h.requestSent()
    }

    /// The client went away: drop the upstream request. (A tunnel's upstream first gets what the
    /// client sent before it left.)
    func cancel() {
        owner = nil
        guard !finished else { return }
        finished = true
        let h = handler
        release(failed: false)
        if tunneling {
            h?.closeAfterWrites(within: .milliseconds(Int64(route.timeouts.upstreamReadMs)))
        } else {
            h?.close()
        }
    }

    func clientWritabilityChanged() {
        handler?.resume()  // (it checks that the client can take more)
    }

    func upstreamWritabilityChanged() {
        if !blocksClientReads { owner?.proxyResumeClientReads() }
    }

    // MARK: upstream side (called by the UpstreamHandler)

    func upstreamEvent(_ event: consuming UpstreamResponseParser.Event) {
        guard !finished, owner != nil else { return }
        switch consume event {
        case .head(let head):
            responseHead(head)
        case .body(let buffer):
            if let gz = gzip {
                compress { try gz.feed(buffer) }
            } else {
                emit(buffer)
            }
        case .end:
            upstreamEnd(reusable: false)
        }
    }

    private func responseHead(_ head: consuming UpstreamResponseParser.Head) {
        responseStarted = true
        status = head.status
        upstreamKeepAlive = head.keepAlive
        // A 101 (offered by the request: the parser refuses one otherwise) starts a tunnel; the
        // client connection closes when it ends. Its latency is the time to the 101.
        let switching = head.status == 101
        if switching {
            tunneling = true
            closeClient = true
            member?.state.latency.record(micros: Int((NIODeadline.now().uptimeNanoseconds &- sentAt) / 1000))
        }
        var lengthKnown = head.framing != .chunked && head.framing != .close
        var extra: StaticString? = nil
        let gzipping = gzipDecision(head)
        if gzipping.compress, let gz = try? GzipStream(level: route.gzipLevel) {
            gzip = gz
            head.prepareForGzip()
            lengthKnown = false
            extra = gzipping.vary ? "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n" : "Content-Encoding: gzip\r\n"
        } else if gzipping.vary {
            extra = "Vary: Accept-Encoding\r\n"
        }
        if !lengthKnown {
            if clientHTTP11 { chunked = true } else { closeClient = true }
        }
        // The upstream's `Connection: close` reaches the client as sent, and the client connection
        // closes after this response, as eXpServer relays it (a client comparing the proxied
        // headers with the upstream's, compat C10, sees the same value).
        if !clientKeepAlive || head.closeRequested || owner?.clientClosing == true { closeClient = true }
        // The parser's buffer, which has room for these lines and a small body (the upstream
        // handler hands the event over, so it is not copied).
        var encoded = head.encoded
        head.encoded = ByteBuffer()
        if let extra { encoded.writeStaticString(extra) }
        if !head.dated {
            encoded.writeStaticString("Date: ")
            encoded.writeString(HTTPDate.now())
            encoded.writeStaticString("\r\n")
        }
        if chunked { encoded.writeStaticString("Transfer-Encoding: chunked\r\n") }
        if switching {
            encoded.writeStaticString("Connection: upgrade\r\n")
        } else if closeClient {
            encoded.writeStaticString("Connection: close\r\n")
        } else if !clientHTTP11 {
            encoded.writeStaticString("Connection: keep-alive\r\n")
        }
        encoded.writeStaticString("\r\n")
        headBytes = encoded.readableBytes
        flushOut()
        out = encoded
        outFrom = handler
        unflushed = true
        if switching { owner?.proxyUpgraded() }
    }

    /// The response is complete on the upstream side. `reusable`: nothing followed it.
    func upstreamEnd(reusable: Bool) {
        guard !finished, owner != nil else { return }
        finishUpstream(reusable: reusable)
        guard let gz = gzip else {
            finishResponse()
            return
        }
        compress { try gz.finish() }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        compression?.whenComplete { result in
            let session = bound.value
            guard case .success = result else {
                session.abort()
                return
            }
            session.gzip = nil
            session.finishResponse()
        }
    }

    private func finishResponse() {
        guard let owner, !finished else { return }
        if chunked { gather(ChunkedEncoding.last(allocator: ByteBufferAllocator())) }
        flushOut()
        finished = true
        self.owner = nil
        owner.proxyDone(closeClient: closeClient, status: status, headBytes: headBytes)
    }

    /// The end of one upstream read: what it produced goes to the client.
    func upstreamReadComplete() {
        guard !finished, let owner, unflushed else { return }
        flushOut()
        unflushed = false
        owner.proxyFlush()
    }

    /// The upstream connection failed or closed before the response was complete.
    func upstreamClosed() { upstreamFailed(stale: reusedConnection) }

    /// The upstream's response is not valid HTTP: its failure, whatever the connection.
    func upstreamMalformed() { upstreamFailed(stale: false) }

    /// `stale`: a kept-alive connection closed before any answer, most likely by the upstream's
    /// own idle timeout racing this request: not a failure of the upstream. The request goes
    /// again on a new connection if that is safe (idempotent, no body sent yet); otherwise it may
    /// have been acted on, and the client gets 502.
    private func upstreamFailed(stale: Bool) {
        guard !finished else { return }
        if tunneling {  // a reset is one way for a tunnel to end, not a failure of the upstream
            endTunnel()
        } else if responseStarted {
            abort()
        } else if stale && !bodySent && isIdempotent, let m = member {
            handler = nil
            connect(m)
        } else if stale {
            release(failed: true, blameUpstream: false)
            fail(.badGateway)
        } else {
            attemptFailed(timedOut: false)
        }
    }

    /// `upstream_read_ms` passed with nothing from the upstream (in a tunnel: nothing either
    /// way, which ends it as a close would).
    func upstreamTimedOut() {
        guard !finished else { return }
        if tunneling {
            endTunnel()
        } else if responseStarted {
            abort()
        } else {
            attemptFailed(timedOut: true)
        }
    }

    /// A tunnel ends on the upstream's side (a reset, or nothing either way for
    /// `upstream_read_ms`) as it does when the upstream closes: its connection closed, what came
    /// goes to the client, then the client is closed.
    private func endTunnel() {
        finishUpstream(reusable: false)
        finishResponse()
    }

    private func abort() {
        finished = true
        release(failed: true)
        flushOut()  // what has come still goes: the client sees the response cut short, not missing
        owner?.proxyAbort(status: status, headBytes: headBytes)
        owner = nil
    }

    /// The upstream response is complete: record it, and pool or close its connection.
    private func finishUpstream(reusable: Bool) {
        guard let m = member, let h = handler else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        if !tunneling { m.state.latency.record(micros: Int((now &- sentAt) / 1000)) }  // (a tunnel's at its 101)
        let keep = reusable && upstreamKeepAlive && clientEnded && h.isActive
        release(failed: false)
        if keep, let pool {
            pool.put(h, limit: route.upstreamKeepalive, now: now)
        } else {
            h.close()
        }
    }

    // MARK: writing to the client

    /// A body piece to the client, chunk-framed when the response is chunked.
    private func emit(_ buffer: ByteBuffer) {
        guard chunked else {
            gather(buffer)
            return
        }
        guard buffer.readableBytes <= Self.gatherLimit else {
            flushOut()
            send(ChunkedEncoding.chunk(buffer, allocator: ByteBufferAllocator()))
            return
        }
        var piece = buffer
        reserveOut(piece.readableBytes + 12)
        out!.writeString(String(piece.readableBytes, radix: 16))
        out!.writeStaticString("\r\n")
        out!.writeBuffer(&piece)
        out!.writeStaticString("\r\n")
    }

    /// Adds `buffer` to what goes out at the end of this read (copied when small).
    private func gather(_ buffer: ByteBuffer) {
        guard buffer.readableBytes <= Self.gatherLimit else {
            flushOut()
            send(buffer)
            return
        }
        var piece = buffer
        reserveOut(piece.readableBytes)
        out!.writeBuffer(&piece)
    }

    private func reserveOut(_ bytes: Int) {
        unflushed = true
        if out == nil { out = ByteBufferAllocator().buffer(capacity: max(bytes, 512)) }
    }

    private func flushOut() {
        guard let buffer = out else { return }
        out = nil
        send(buffer)
        if let source = outFrom {
            outFrom = nil
            source.recycle(buffer)
        }
    }

    private func send(_ buffer: ByteBuffer) {
        unflushed = true
        owner?.proxyWrite(buffer)
    }

    /// Writes compressed output at once (it arrives from the thread pool, outside any read).
    private func writeNow(_ buffer: ByteBuffer) {
        emit(buffer)
        flushOut()
        unflushed = false
        owner?.proxyFlush()
    }

    // MARK: gzip_proxied

    /// `gzip_proxied`: `compress` when the client accepts gzip, the upstream did not encode the
    /// body, and its type and size qualify (compat's policy for static files, `CompressionPolicy`);
    /// `vary` when the type and size qualify, whether compressed or not (nginx's `gzip_vary`: a
    /// cache must not hand one client's variant to another), unless the upstream already varies
    /// on Accept-Encoding. A HEAD's answer is left as it is (as nginx's gzip filter does).
    private func gzipDecision(_ head: UpstreamResponseParser.Head) -> (compress: Bool, vary: Bool) {
        guard let policy = route.gzip, threadPool != nil, head.framing != .none, head.status == 200 else { return (false, false) }
        let lines = head.lines()
        func value(_ name: String) -> String? { lines.first { $0.name.lowercased() == name }?.value }
        guard value("content-encoding") == nil else { return (false, false) }
        let type = value("content-type").map { String($0.split(separator: ";").first ?? "").trimmingSpaces().lowercased() } ?? ""
        let size = value("content-length").flatMap(Int.init) ?? Int.max
        guard policy.varies(contentType: type, size: size) else { return (false, false) }
        // Every line of a list field counts (a list may be split over several).
        func list(_ name: String) -> String { lines.filter { $0.name.lowercased() == name }.map(\.value).joined(separator: ", ") }
        let cacheControl = list("cache-control")
        // An upstream's no-transform keeps it from being compressed for anyone: nothing varies.
        guard CompressionPolicy.transformable(cacheControl) else { return (false, false) }
        let varied = list("vary").lowercased().split(separator: ",").contains {
            let field = $0.trimmingSpaces()
            return field == "accept-encoding" || field == "*"
        }
        let compress = policy.shouldCompress(
            contentType: type, size: size, acceptEncoding: acceptEncoding, isRange: false, cacheControl: cacheControl)
        return (compress, !varied)
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
            if out.readableBytes > 0 { session.writeNow(out) }
            session.handler?.resume()
        }
    }
}
