import NIOCore

/// The only handler of an upstream connection: bytes out as the session writes them, bytes in
/// through `UpstreamResponseParser` to the proxy session that owns the connection. It also holds
/// reads while the client cannot take more (backpressure), and keeps the upstream read timeout.
///
/// The read timeout runs from the end of the request (as nginx's `proxy_read_timeout`): while the
/// request's body is still being sent, a silent upstream is waiting for it, not late, as long as
/// it takes what is sent. While it takes none of it (the connection is not writable: the client's
/// reads are held meanwhile, and so is the client's body deadline), its silence counts as well,
/// as nginx's `proxy_send_timeout`: an upstream that neither takes the request nor answers for
/// `upstream_read_ms` times out like a silent one (504 if nothing of the answer has gone to the
/// client). Its progress is seen when the connection's writability changes, so it must take
/// some tens of KiB (what lies between NIO's write buffer water marks) per `upstream_read_ms`.
///
/// After a 101 (a WebSocket tunnel) the read timeout is the tunnel's idle timeout: bytes either
/// way are activity (`touch` for the client's), as nginx times out an upgraded connection with
/// `proxy_read_timeout`.
///
/// The read timeout is one timer that lives with the connection rather than one per request:
/// when it fires it checks how long the upstream has been silent and re-arms for the rest, and
/// while the connection idles in the pool it lapses (the next request arms it again). A request
/// whose timeout ends before the armed timer fires (a reload lowered `upstream_read_ms`) re-arms
/// it for its own deadline.
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The pool this connection returns to, and its place there (`UpstreamState.poolIndex`).
    let pool: UpstreamConnectionPool?
    let key: Int
    /// The loop's deferred flushes (nil: flush at once).
    let flusher: LoopFlusher?

    private(set) var session: ProxySession?
    private var parser = UpstreamResponseParser()
    private var readHeld = false
    /// Closing after the last writes (`closeAfterWrites`): input is dropped.
    private var discarding = false
    // Strong (weak references put objects on the slow reference-counting path); cleared on removal.
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    /// When `timer` fires (uptime nanoseconds).
    private var timerDue: UInt64 = 0
    private var readTimeout: UInt64 = 0
    private var lastActivity: UInt64 = 0
    /// The request is still being sent (its body has not all come from the client).
    private var sending = false
    /// When it went idle into the pool (uptime nanoseconds; `UpstreamConnectionPool`).
    var pooledAt: UInt64 = 0
    /// Inside a read loop: between a `channelRead` and its `channelReadComplete`.
    private var reading = false
    /// Handed back to the pool during a read loop: goes in at its end (`parkUntilReadComplete`).
    private var parked: (limit: Int, now: UInt64)?

    init(pool: UpstreamConnectionPool?, key: Int, flusher: LoopFlusher? = nil) {
        self.pool = pool
        self.key = key
        self.flusher = flusher
    }

    /// Kept from the channel's events (asking the channel each time costs a pipeline lookup and
    /// reference counting per request).
    private(set) var isActive = false
    private(set) var isWritable = true

    /// Starts a request on this connection for `session`; the response parser expects no body
    /// when the request is a HEAD, and takes a 101 when it offers to switch protocols (`upgrade`).
    /// `sending`: more of the request is to come (`requestSent`). `now`: uptime nanoseconds.
    func begin(_ session: ProxySession, noBody: Bool, upgrade: Bool = false, readTimeoutMs: Int, sending: Bool, now: UInt64) {
        self.session = session
        self.sending = sending
        parser.reset(noBody: noBody, upgrade: upgrade)
        readTimeout = UInt64(readTimeoutMs) * 1_000_000
        lastActivity = now
        if timer == nil || timerDue > lastActivity &+ readTimeout {
            timer?.cancel()
            armTimer(in: .nanoseconds(Int64(readTimeout)))
        }
    }

    /// The session is done with the connection (whether it is pooled or closed next).
    func end() { session = nil }

    /// The request's last byte is written: the read timeout runs from now.
    func requestSent() {
        guard sending else { return }
        sending = false
        lastActivity = NIODeadline.now().uptimeNanoseconds
    }

    /// Bytes went to the upstream through a tunnel: activity, as bytes from it are.
    func touch() { lastActivity = NIODeadline.now().uptimeNanoseconds }

    /// A response head's buffer, written to the client: its memory serves the next head
    /// (`UpstreamResponseParser.recycle`).
    func recycle(_ buffer: ByteBuffer) { parser.recycle(buffer) }

    func write(_ buffer: ByteBuffer) { context?.write(wrapOutboundOut(buffer), promise: nil) }
    func flush() {
        guard let context else { return }
        LoopFlusher.flush(context, with: flusher)
    }
    func close() { context?.close(promise: nil) }

    /// Closes once what was written has gone (a tunnel whose client left): the output is shut
    /// after it, and what the upstream still sends is read and dropped until it closes, or until
    /// `limit` (a close with input unread would reset the connection, which can destroy what
    /// was sent before the upstream reads it).
    func closeAfterWrites(within limit: TimeAmount) {
        guard let context else { return }
        discarding = true
        let channel = context.channel
        channel.eventLoop.scheduleTask(in: limit) { channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { result in
            guard case .success = result else { return channel.close(promise: nil) }
            channel.close(mode: .output, promise: nil)
        }
        if readHeld {
            readHeld = false
            context.read()
        }
    }

    // MARK: inbound

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isActive = context.channel.isActive
    }

    func channelActive(context: ChannelHandlerContext) {
        isActive = true
        context.fireChannelActive()
    }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        timer = nil
    }

    /// Called by the pool for a connection handed back: during a read loop it is held until the
    /// loop ends (true), and goes in then only if nothing more was read. A response that ends
    /// exactly where a read buffer ends leaves the bytes after it (an upstream's stray body, an
    /// unsolicited second answer) for the next read of the same loop; pooled at once, the
    /// connection could take a pipelined request first, and those bytes would be its answer.
    func parkUntilReadComplete(limit: Int, now: UInt64) -> Bool {
        guard reading else { return false }
        parked = (limit, now)
        return true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        guard let session else {
            parked = nil
            if !discarding { context.close(promise: nil) }  // an idle (or parked) connection must not talk
            return
        }
        lastActivity = NIODeadline.now().uptimeNanoseconds
        var buffer = unwrapInboundIn(data)
        do {
            while let event = try parser.next(&buffer) {
                if case .end = event {
                    // Bytes beyond the response mean the connection cannot be trusted again.
                    session.upstreamEnd(reusable: buffer.readableBytes == 0 && parser.isDone)
                    return
                }
                session.upstreamEvent(consume event)
                guard self.session === session else { return }
            }
        } catch {
            self.session = nil
            session.upstreamMalformed()
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if let parked {
            self.parked = nil
            if session == nil { pool?.put(self, limit: parked.limit, now: parked.now) }
        }
        session?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        timer?.cancel()
        timer = nil
        if let session {
            self.session = nil
            // A close-delimited body ends here; anything else was cut short.
            if case .end? = try? parser.endOfInput() {
                session.upstreamEnd(reusable: false)
            } else {
                session.upstreamClosed()
            }
        } else {
            pool?.remove(self)
        }
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let session {
            self.session = nil
            session.upstreamClosed()
        }
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        // Taking the request, or no longer: the silence of an upstream that is not counts from now.
        lastActivity = NIODeadline.now().uptimeNanoseconds
        session?.upstreamWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    // MARK: backpressure

    func read(context: ChannelHandlerContext) {
        if clientFull {
            readHeld = true
            return
        }
        context.read()
    }

    /// The one rule for holding upstream reads: the session's client cannot take more now.
    private var clientFull: Bool { session?.clientCanTakeMore == false }

    /// The client drained its buffer, or a compression step finished: read from the upstream
    /// again if we were holding and the client can take more now (checked here, whoever asks).
    func resume() {
        guard readHeld, let context, !clientFull else { return }
        readHeld = false
        context.read()
    }

    // MARK: read timeout

    private func armTimer(in delay: TimeAmount) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timerDue = NIODeadline.now().uptimeNanoseconds &+ UInt64(max(0, delay.nanoseconds))
        timer = context.eventLoop.scheduleTask(in: delay) { bound.value.timerFired() }
    }

    private func timerFired() {
        timer = nil
        guard let session else { return }  // idle in the pool: lapse
        let now = NIODeadline.now().uptimeNanoseconds
        // Held reads wait for the client, not for the upstream; so does a request still being
        // sent, while the upstream takes it (writable).
        if readHeld || (sending && isWritable) { lastActivity = now }
        let idle = now &- lastActivity
        if idle < readTimeout {
            armTimer(in: .nanoseconds(Int64(readTimeout - idle)))
            return
        }
        self.session = nil
        session.upstreamTimedOut()
        context?.close(promise: nil)
    }
}
