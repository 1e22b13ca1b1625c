import NIOCore

/// What the HTTP handler tells the timeout handler (directly: both run on the connection's loop).
enum ConnectionEvent {
    case headComplete(hasBody: Bool)
    case requestComplete
    case responseComplete
    /// The connection is about to be closed by the handler; stop timing.
    case closing
}

/// Executes `ConnectionTimeouts` for one connection. First in the pipeline, so it sees every raw
/// byte read and every writability change; the HTTP handler tells it where requests begin and
/// end. One scheduled task at a time, at the next deadline.
final class TimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var timeouts: ConnectionTimeouts
    private var task: Scheduled<Void>?
    private var scheduledFor: Int64?
    private var stopped = false
    private let onTimeout: @Sendable (ConnectionTimeouts.Kind) -> Void
    private let stats: ServerStats?

    init(settings: ConnectionTimeouts.Settings, stats: ServerStats? = nil, onTimeout: @escaping @Sendable (ConnectionTimeouts.Kind) -> Void) {
        timeouts = ConnectionTimeouts(settings: settings, now: Self.now())
        self.stats = stats
        self.onTimeout = onTimeout
    }

    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Called directly by the HTTP handler on the same event loop (cheaper than a pipeline event).
    func event(_ e: ConnectionEvent) {
        switch e {
        case .headComplete(let hasBody): timeouts.headComplete(hasBody: hasBody, now: hasBody ? Self.now() : 0)
        case .requestComplete: timeouts.requestComplete()
        case .responseComplete: timeouts.responseComplete(now: Self.now())
        case .closing: stop()
        }
        if let context { reschedule(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        timeouts = ConnectionTimeouts(settings: timeouts.settings, now: Self.now())
        reschedule(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        stats?.bytesIn.add(Self.unwrapInboundIn(data).readableBytes, ordering: .relaxed)
        timeouts.bytesRead(now: Self.now())
        reschedule(context: context)
        context.fireChannelRead(data)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        timeouts.writabilityChanged(writable: context.channel.isWritable, now: Self.now())
        reschedule(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func stop() {
        stopped = true
        task?.cancel()
        task = nil
        scheduledFor = nil
    }

    /// Keeps exactly one task, at the current deadline (re-armed only when it moves earlier;
    /// a later deadline is picked up when the earlier task fires and re-checks).
    private func reschedule(context: ChannelHandlerContext) {
        guard !stopped, let deadline = timeouts.deadline else { return }
        if let at = scheduledFor, at <= deadline.at { return }
        task?.cancel()
        scheduledFor = deadline.at
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        task = context.eventLoop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(UInt64(max(deadline.at, 0)))) {
            let (handler, context) = bound.value
            handler.fire(context: context)
        }
    }

    private func fire(context: ChannelHandlerContext) {
        scheduledFor = nil
        task = nil
        guard !stopped else { return }
        switch timeouts.check(now: Self.now()) {
        case .none:
            reschedule(context: context)
        case .close(let kind):
            stop()
            onTimeout(kind)
            context.close(promise: nil)
        case .respond408AndClose:
            stop()
            onTimeout(.header)
            var bytes = context.channel.allocator.buffer(capacity: 160)
            bytes.writeString(
                "HTTP/1.1 408 Request Timeout\r\nDate: \(HTTPDate.now())\r\nServer: eXpServer\r\n"
                    + "Access-Control-Allow-Origin: *\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            let channel = context.channel
            context.writeAndFlush(NIOAny(bytes)).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
