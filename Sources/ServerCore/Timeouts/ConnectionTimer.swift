import NIOCore

/// What the HTTP handler tells its `ConnectionTimer` (directly: both run on the connection's loop).
enum ConnectionEvent {
    case headComplete(hasBody: Bool)
    case requestComplete
    case responseComplete
    /// The current request's answer is complete before its body has all arrived.
    case answeredBeforeRequestEnd
    /// The connection closes once its writes have gone out (they get `send_ms`).
    case closing
}

/// Executes `ConnectionTimeouts` for one connection. The connection's handler drives it
/// directly (not as a handler of its own in the pipeline: every read, write and flush would
/// cross one more handler): it reports every read's bytes and every writability change, asks
/// before each `read` whether reads are paused (slow heads are paced), tells it when reads are
/// held for a proxied request's upstream (`bodyHeld`), and tells it where requests begin and
/// end. One deadline armed at a time, in the loop's timing wheel (`LoopTimers`): the next
/// deadline or the end of a read pause, whichever is first.
///
/// The 408 goes out with a lingering close (`lingeringClose`, which the handler also uses when it
/// closes while a request body is still coming): the write side is shut (FIN after the 408) and
/// input is read and dropped until the client closes, or for at most `lingerTime`, so bytes the
/// client sent meanwhile (unread while paced) do not turn the close into a reset that could
/// destroy the 408 before the client reads it.
final class ConnectionTimer: LoopTimers.Target {
    static let lingerTime = TimeAmount.seconds(2)

    private var timeouts: ConnectionTimeouts
    private let registry: PerEventLoop<LoopTimers>?
    private var timers: LoopTimers?
    /// This connection's place in `timers` (from `attach` until `detach`).
    private var timerSlot: Int?
    private var scheduledFor: Int64?
    private var stopped = false
    /// Reads are held until this time (a slow head); `readWanted`: one was asked for meanwhile.
    private var pausedUntil: Int64?
    private var readWanted = false
    /// After the 408: input is dropped until the connection closes.
    private(set) var lingering = false
    private let onTimeout: @Sendable (ConnectionTimeouts.Kind) -> Void
    private let stats: ServerStats?

    init(settings: ConnectionTimeouts.Settings, timers: PerEventLoop<LoopTimers>? = nil, stats: ServerStats? = nil,
         onTimeout: @escaping @Sendable (ConnectionTimeouts.Kind) -> Void) {
        let now = Self.now()
        timeouts = ConnectionTimeouts(settings: settings, now: now, paceJitter: Self.jitter(settings, seed: UInt64(now)))
        registry = timers
        self.stats = stats
        self.onTimeout = onTimeout
    }

    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    /// The connection's read-pacing jitter, drawn from `seed` (its start, in nanoseconds: enough to
    /// spread connections; the system generator would cost a `getrandom` call per connection).
    static func jitter(_ settings: ConnectionTimeouts.Settings, seed: UInt64) -> Int64 {
        var generator = SplitMix64(seed: seed)
        return settings.slowHeadInterval > 1 ? Int64.random(in: 0..<settings.slowHeadInterval / 2, using: &generator) : 0
    }

    /// The connection's handler context: timers fire, close and write the 408 through it.
    private var context: ChannelHandlerContext?

    func attach(_ context: ChannelHandlerContext) {
        self.context = context
        let timers = registry?.get(context.eventLoop) ?? LoopTimers(eventLoop: context.eventLoop)
        self.timers = timers
        if timerSlot == nil { timerSlot = timers.register(self) }
    }

    /// The connection is gone (or its handler removed): its slot is released, so the timing
    /// wheel keeps nothing of it until its deadline would have come.
    func detach() {
        stop()
        if let slot = timerSlot { timers?.release(slot) }
        timerSlot = nil
        context = nil
    }

    /// Called directly by the HTTP handler on the same event loop (cheaper than a pipeline event).
    func event(_ e: ConnectionEvent) {
        switch e {
        case .headComplete(let hasBody): timeouts.headComplete(hasBody: hasBody, now: hasBody ? Self.now() : 0)
        case .requestComplete: timeouts.requestComplete(now: Self.now())
        case .responseComplete: timeouts.responseComplete(now: Self.now())
        case .answeredBeforeRequestEnd: timeouts.answeredBeforeRequestEnd()
        case .closing: timeouts.closing(now: Self.now())
        }
        reschedule()
    }

    func activate() {
        timeouts = ConnectionTimeouts(settings: timeouts.settings, now: Self.now(), paceJitter: timeouts.paceJitter)
        reschedule()
    }

    /// `count` bytes were read (before the handler looks at them); the time, for `afterRead`.
    func bytesRead(_ count: Int) -> Int64 {
        stats?.bytesIn.add(count, ordering: .relaxed)
        let now = Self.now()
        timeouts.bytesRead(now: now)
        reschedule()
        return now
    }

    /// After the handler saw a read's bytes (read at `now`): a head they completed is not paced.
    func afterRead(now: Int64) {
        if !stopped, let until = timeouts.readPause(now: now) {
            pausedUntil = until
            stats?.connections.slowHeadPauses.add(1, ordering: .relaxed)
            reschedule()
        }
    }

    /// Whether a `read` must wait (a paused slow head); it is issued when the pause ends.
    func holdsRead() -> Bool {
        guard pausedUntil != nil else { return false }
        readWanted = true
        return true
    }

    private func resumeReading(context: ChannelHandlerContext) {
        pausedUntil = nil
        if readWanted {
            readWanted = false
            context.read()
        }
    }

    func writabilityChanged(writable: Bool) {
        timeouts.writabilityChanged(writable: writable, now: Self.now())
        reschedule()
    }

    /// Client reads are held, or no longer, because the proxied request's upstream cannot take
    /// more of the body (`ConnectionTimeouts.bodyHeld`). No clock read when nothing changes.
    @inline(__always)
    func bodyHeld(_ held: Bool) {
        guard held != timeouts.isBodyHeld else { return }
        timeouts.bodyHeld(held, now: Self.now())
        reschedule()
    }

    /// A streamed body's piece was written, or went out (`ConnectionTimeouts.streamWrite`).
    func streamWrite(pending: Bool) {
        timeouts.streamWrite(pending: pending, now: Self.now())
        reschedule()
    }

    /// Part of a large write went out (`ConnectionTimeouts.writeProgress`).
    func writeProgress() {
        timeouts.writeProgress(now: Self.now())
        reschedule()
    }

    private func stop() {
        stopped = true
        if let slot = timerSlot { timers?.cancel(slot) }
        scheduledFor = nil
    }

    /// Keeps one deadline armed: the current deadline or the end of a read pause, whichever is
    /// first (re-armed only when that moves earlier; a later one is picked up when the earlier
    /// one fires and re-checks).
    private func reschedule() {
        guard !stopped, let deadline = timeouts.deadline, let timers, let timerSlot else { return }
        let at = pausedUntil.map { min($0, deadline.at) } ?? deadline.at
        if let scheduled = scheduledFor, scheduled <= at { return }
        scheduledFor = at
        timers.arm(timerSlot, at: at)
    }

    func timerFired() {
        guard let context else { return }
        fire(context: context)
    }

    private func fire(context: ChannelHandlerContext) {
        scheduledFor = nil
        guard !stopped else { return }
        let now = Self.now()
        switch timeouts.check(now: now, readHeld: pausedUntil != nil && readWanted) {
        case .none:
            if let until = pausedUntil, until <= now { resumeReading(context: context) }
            reschedule()
        case .readFirst:
            // The deadline is checked again at the next tick, after this read has been handled
            // (no new pause past the deadline, so then it is acted on).
            resumeReading(context: context)
            reschedule()
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
            lingering = true
            let channel = context.channel
            context.writeAndFlush(NIOAny(bytes)).whenComplete { result in
                guard case .success = result else { return channel.close(promise: nil) }
                Self.shutOutputAndLinger(channel)
            }
            pausedUntil = nil
            readWanted = false
            context.read()
        }
    }

    /// Closes a connection whose client may still be sending (a request body the answer did not
    /// wait for): the write side is shut now, after what was written (FIN), and input is read
    /// and dropped until the client closes, for at most `lingerTime`, as nginx's lingering close.
    /// A plain close with unread input sends a reset, which can destroy the answer before the
    /// client has read it.
    func lingeringClose(context: ChannelHandlerContext) {
        stop()
        lingering = true
        pausedUntil = nil
        readWanted = false
        Self.shutOutputAndLinger(context.channel)
        context.read()
    }

    private static func shutOutputAndLinger(_ channel: Channel) {
        channel.close(mode: .output, promise: nil)
        channel.eventLoop.scheduleTask(in: lingerTime) { channel.close(promise: nil) }
    }
}
