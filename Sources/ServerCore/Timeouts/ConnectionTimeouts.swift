/// A client connection's deadlines as a value-type state machine. Times are nanoseconds from any
/// fixed origin (the handler passes `NIODeadline.now().uptimeNanoseconds`; tests pass numbers).
///
/// Phases and their deadline:
/// - `idle`: nothing of a request has arrived. A connection that never spoke is closed silently
///   after `header` (eXpServer's 60 s); one idle between requests after `keepalive`.
/// - `head`: part of a request head has arrived. The deadline is `header` after its **first**
///   byte and later bytes do not move it, so a client trickling a byte at a time (slowloris)
///   cannot extend it. On expiry: 408 then close (or a silent close, eXpServer's behaviour, when
///   `respond408` is false).
/// - `body`: the head is complete and its body is being read: `body` after the last byte read.
///   While reads are held because a proxied request's upstream cannot take more of the body
///   (`bodyHeld`), the client is waiting for us, not slow: no body deadline (the upstream's
///   `upstream_read_ms` bounds the wait, as nginx's `proxy_send_timeout`), unless the client is
///   not reading our answer either (the socket is not writable): then `send` after it became so.
///   When reads resume, the body deadline starts again from then. A new request's head starts
///   unheld.
/// - `responding`: the answer is being produced or written. While the socket is not writable
///   (the client is not reading), `send` after it became so; otherwise no client deadline (the
///   upstream timeouts cover a slow upstream).
///
/// - `closing`: the connection closes once what was written has gone out: `send` after that
///   began or after the last of it went out (`writeProgress`), whatever the client still sends.
///
/// An answer can be complete before its request (an upstream that answers before the body has
/// all arrived: `answeredBeforeRequestEnd`): the body's deadline runs on while the rest of it is
/// read (and dropped), and the request's end then leaves the connection idle between requests.
/// An earlier request's answer that completes while the next one's body is read leaves that
/// body's deadline as it is.
///
/// Read pacing (`readPause`): a head still incomplete `slowHeadAfter` (0.5 s) after its first
/// byte is read no sooner than `slowHeadInterval` (1 s) later, or as long again as it has already
/// taken if that is longer (reads at about 0.5, 1.5, 3, 6 s...); what arrives meanwhile waits in
/// the kernel and is read together. A slowloris connection then costs a handful of reads over
/// its whole deadline instead of one per trickled byte; its deadline does not change, and a
/// legitimate head (which arrives within a round trip or two) is never held more than one interval.
/// A pause may end at the deadline itself: what arrived during it is read before the deadline is
/// acted on (`check` says `readFirst`), so a head that arrived in time is never refused for bytes
/// we held back; reads are not paused past the deadline, so that is one read, then the verdict.
public struct ConnectionTimeouts: Equatable, Sendable {
    public struct Settings: Equatable, Sendable {
        public var header: Int64
        public var body: Int64
        public var keepalive: Int64
        public var send: Int64
        public var respond408: Bool
        public var slowHeadAfter: Int64
        public var slowHeadInterval: Int64

        public init(headerMs: Int, bodyMs: Int, keepaliveMs: Int, sendMs: Int, respond408: Bool,
                    slowHeadAfterMs: Int = 500, slowHeadIntervalMs: Int = 1_000) {
            header = Int64(headerMs) * 1_000_000
            body = Int64(bodyMs) * 1_000_000
            keepalive = Int64(keepaliveMs) * 1_000_000
            send = Int64(sendMs) * 1_000_000
            self.respond408 = respond408
            slowHeadAfter = Int64(slowHeadAfterMs) * 1_000_000
            slowHeadInterval = Int64(slowHeadIntervalMs) * 1_000_000
        }
    }

    public enum Phase: Equatable, Sendable {
        case idle(since: Int64, spoke: Bool)
        case head(started: Int64)
        case body(lastRead: Int64)
        case responding
        case closing(since: Int64)
    }

    /// Why a connection timed out (counted by kind).
    public enum Kind: String, Sendable, CaseIterable {
        case neverSpoke = "never_spoke"
        case keepalive
        case header
        case body
        case send
    }

    public enum Action: Equatable, Sendable {
        case none
        case close(Kind)
        /// 408 Request Timeout, then close.
        case respond408AndClose
        /// The head's deadline has come while a read is held (paced): read what arrived during
        /// the pause, then check again (the head may be complete).
        case readFirst
    }

    public let settings: Settings
    public private(set) var phase: Phase
    /// The answer is complete and the request's body is still being read.
    public private(set) var answeredEarly = false
    /// Reads of the body are held for the proxied request's upstream (`bodyHeld`).
    public private(set) var isBodyHeld = false
    private var unwritableSince: Int64?
    /// A streamed body's piece has been written and has not gone out yet, since then. (A stream
    /// writes one piece at a time, so its writes may never fill the channel past its high-water
    /// mark: a client that stops reading would leave the channel writable and never time out.)
    private var streamWriteSince: Int64?
    /// Added to this connection's read pauses (the handler picks it at random, up to half an
    /// interval), so that slow connections opened together do not stay in step.
    public let paceJitter: Int64

    public init(settings: Settings, now: Int64, paceJitter: Int64 = 0) {
        self.settings = settings
        self.paceJitter = paceJitter
        phase = .idle(since: now, spoke: false)
    }

    public mutating func bytesRead(now: Int64) {
        switch phase {
        case .idle: phase = .head(started: now)
        case .body: phase = .body(lastRead: now)
        case .head, .responding, .closing: break  // a head's deadline is fixed at its first byte
        }
    }

    public mutating func headComplete(hasBody: Bool, now: Int64) {
        if case .closing = phase { return }
        answeredEarly = false
        isBodyHeld = false
        phase = hasBody ? .body(lastRead: now) : .responding
    }

    /// (`now` is read only when the answer was complete first.)
    public mutating func requestComplete(now: @autoclosure () -> Int64) {
        if case .closing = phase { return }
        if answeredEarly {
            answeredEarly = false
            phase = .idle(since: now(), spoke: true)
        } else {
            phase = .responding
        }
    }

    /// The current request's answer is complete while its body is still being read.
    public mutating func answeredBeforeRequestEnd() {
        if case .body = phase { answeredEarly = true }
    }

    public mutating func responseComplete(now: Int64) {
        switch phase {
        case .body, .closing: break  // an earlier request's answer: the next one's body is being read
        default: phase = .idle(since: now, spoke: true)
        }
    }

    /// The connection closes once its writes have gone out.
    public mutating func closing(now: Int64) {
        if case .closing = phase { return }
        phase = .closing(since: now)
    }

    /// Client reads are held (`held`) because the proxied request's upstream cannot take more of
    /// the body, or are no longer held for that reason: the body deadline is suspended meanwhile,
    /// and starts again from `now` when the hold ends. (`now` is read only then.)
    public mutating func bodyHeld(_ held: Bool, now: @autoclosure () -> Int64) {
        guard held != isBodyHeld else { return }
        isBodyHeld = held
        if !held, case .body = phase { phase = .body(lastRead: now()) }
    }

    public mutating func writabilityChanged(writable: Bool, now: Int64) {
        unwritableSince = writable ? nil : (unwritableSince ?? now)
    }

    /// A streamed body's piece was written (`pending`), or has gone out (progress).
    public mutating func streamWrite(pending: Bool, now: @autoclosure () -> Int64) {
        streamWriteSince = pending ? now() : nil
    }

    /// Part of what was written went out (the client is taking it, however slowly): the send
    /// deadline counts from now. (`send` is the longest the client may take nothing, not how
    /// long a transfer may last.)
    public mutating func writeProgress(now: Int64) {
        if unwritableSince != nil { unwritableSince = now }
        if case .closing = phase { phase = .closing(since: now) }
    }

    /// When the next check is due, and what expires then; nil when nothing can expire.
    @inline(__always)
    public var deadline: (at: Int64, kind: Kind)? {
        switch phase {
        case .idle(let since, let spoke):
            return spoke ? (since + settings.keepalive, .keepalive) : (since + settings.header, .neverSpoke)
        case .head(let started):
            return (started + settings.header, .header)
        case .body(let last):
            if isBodyHeld { return unwritableSince.map { ($0 + settings.send, .send) } }
            return (last + settings.body, .body)
        case .responding:
            let since = streamWriteSince.map { s in unwritableSince.map { min($0, s) } ?? s } ?? unwritableSince
            return since.map { ($0 + settings.send, .send) }
        case .closing(let since):
            return (since + settings.send, .send)
        }
    }

    /// After a read at `now`: until when to stop reading (nil: read on). Only a head that has
    /// been arriving for `slowHeadAfter` is paced, and never past its deadline (once it has
    /// passed, reads are not held: `readFirst`'s read is the last one before the verdict).
    public func readPause(now: Int64) -> Int64? {
        guard case .head(let started) = phase, now - started >= settings.slowHeadAfter,
            now < started + settings.header
        else { return nil }
        let pause = max(settings.slowHeadInterval, now - started) + paceJitter
        return min(now + pause, started + settings.header)
    }

    /// What to do at `now`; `readHeld`: a read is being held by a pause (`readPause`), so bytes
    /// that arrived in time may be waiting unread.
    public func check(now: Int64, readHeld: Bool = false) -> Action {
        guard let d = deadline, now >= d.at else { return .none }
        if d.kind == .header && readHeld { return .readFirst }
        if d.kind == .header && settings.respond408 { return .respond408AndClose }
        return .close(d.kind)
    }
}
