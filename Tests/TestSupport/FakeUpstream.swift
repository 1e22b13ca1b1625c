import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 upstream for proxy tests on a free 127.0.0.1 port: blocking sockets, a thread per
/// connection, keep-alive, Content-Length and chunked request bodies (`SocketReader`). It answers
/// with its own id (`X-Upstream-Id` and the body) and counts what it sees. `behavior` can change
/// at any time: a delay before answering, holding requests until `release()`, a generated body
/// of N bytes (streamed from one reused block, never held in memory), an HTTP/1.0
/// close-delimited answer, a chunked one, `Connection: close`, an echo of the request body, a
/// pause in reading a body (`bodyPauseMs`), no answer at all (`hangUp`), or not even a read
/// (`neverRead`), or a tunnel for requests that offer to switch protocols (`tunnel`). Every answer carries `X-Body-Bytes` (the request body's length)
/// and `X-Body-Pattern` (`ok` when the body was `FakeUpstream.pattern`). `stop()` wakes and ends
/// every thread (also those waiting out a delay, held, or blocked in a write).
public final class FakeUpstream: @unchecked Sendable {
    public struct Behavior: Sendable {
        public var delayMs = 0
        /// Answer with a body of this many pattern bytes instead of the id.
        public var bodyBytes: Int? = nil
        /// `HTTP/1.0 200`, no length and no Connection header, close after the body.
        public var closeDelimited = false
        /// `Transfer-Encoding: chunked` (the id in two chunks).
        public var chunked = false
        /// Answer with the request body (kept up to 1 MiB).
        public var echo = false
        /// Send `Connection: close` (with a length) and close after the answer.
        public var connectionClose = false
        /// Requests whose target starts with this wait until `release()` (or `stop()`) first.
        public var holdPrefix: String? = nil
        /// Close the connection after reading the request, without answering.
        public var hangUp = false
        /// Like `hangUp`, but only from this request of a connection on (1 = the first): a kept-
        /// alive connection that the upstream closed while it was idle in the proxy's pool.
        public var hangUpFromRequest: Int? = nil
        /// Write exactly these bytes as the answer, then close.
        public var rawAnswer: String? = nil
        public var status = 200
        /// Answer as soon as the head has arrived, then read the body, then close.
        public var answerBeforeBody = false
        /// Accept connections but read nothing from them (and answer nothing) until `stop()`.
        public var neverRead = false
        /// Stop reading a request body for this long once `bodyPauseAfter` bytes of it have come
        /// (a busy upstream), then read on.
        public var bodyPauseMs = 0
        public var bodyPauseAfter = 1 << 20
        /// A request with `Upgrade` gets `101 Switching Protocols` (its `Upgrade` value echoed,
        /// `Sec-WebSocket-Accept: accept-<key>`, `X-Upstream-Id`) and `hello <id>\n` in the same
        /// write; then every byte that comes is echoed back as it comes until the peer closes.
        public var tunnel = false
        /// With `tunnel`: close right after the greeting.
        public var tunnelCloseAfterGreeting = false
        /// With `tunnel`: take what comes without echoing it.
        public var tunnelSilent = false
        /// With `tunnel`: wait this long before reading anything.
        public var tunnelReadDelayMs = 0
        /// With `tunnel`: send this many pattern bytes, shut the output (FIN), then read (and
        /// count) until the peer closes.
        public var tunnelSendThenEnd: Int? = nil
        /// With `tunnel`: end with a reset right after the greeting.
        public var tunnelReset = false

        public init(delayMs: Int = 0, bodyBytes: Int? = nil, closeDelimited: Bool = false, chunked: Bool = false, echo: Bool = false,
                    connectionClose: Bool = false, holdPrefix: String? = nil, hangUp: Bool = false, hangUpFromRequest: Int? = nil,
                    rawAnswer: String? = nil, status: Int = 200) {
            self.delayMs = delayMs
            self.bodyBytes = bodyBytes
            self.closeDelimited = closeDelimited
            self.chunked = chunked
            self.echo = echo
            self.connectionClose = connectionClose
            self.holdPrefix = holdPrefix
            self.hangUp = hangUp
            self.hangUpFromRequest = hangUpFromRequest
            self.rawAnswer = rawAnswer
            self.status = status
        }
    }

    /// What one request looked like on arrival.
    public struct Seen: Sendable {
        public var method: String
        public var target: String
        public var version: String
        public var headers: [(String, String)]
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        public func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    }

    public struct Counters: Sendable {
        /// Request heads received.
        public var requests = 0
        /// Answers fully written.
        public var completed = 0
        /// Requests between head and the end of the answer.
        public var active = 0
        public var connections = 0
        /// Answers cut short because the peer closed or reset the connection.
        public var aborted = 0
        public var bodyBytes = 0
        /// Requests waiting for `release()` now.
        public var held = 0
        /// Bytes of generated bodies written so far.
        public var bytesSent = 0
    }

    public let id: String
    public let port: Int
    private let listenFD: CInt
    private let state = Mutex(State())
    private let wake = NSCondition()
    private let threads = DispatchGroup()

    private struct State {
        var behavior = Behavior()
        var counters = Counters()
        var seen: [Seen] = []
        var fds: Set<CInt> = []
        var stopping = false
    }

    /// The body byte at offset `i` of generated answers and of the tests' large uploads.
    public static func pattern(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: i) }
    /// One 64 KiB block of the pattern (it repeats every 256 bytes, so every block is the same).
    public static let block: [UInt8] = (0..<65536).map { pattern($0) }

    public init(id: String, behavior: Behavior = Behavior()) throws {
        self.id = id
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError("socket failed") }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw TestError("fake upstream bind/listen failed: \(errno)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listenFD = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        state.withLock { $0.behavior = behavior }
        spawn { $0.acceptLoop() }
    }

    public var address: String { "127.0.0.1:\(port)" }
    public var behavior: Behavior {
        get { state.withLock { $0.behavior } }
        set { state.withLock { $0.behavior = newValue } }
    }
    public var counters: Counters { state.withLock { $0.counters } }
    public var requests: Int { counters.requests }
    /// Connections open now (accepted, and not yet closed by either side).
    public var openConnections: Int { state.withLock { $0.fds.count } }
    public var seen: [Seen] { state.withLock { $0.seen } }

    /// Stops accepting, ends every connection and waits (bounded) for the threads.
    public func stop() {
        let fds: Set<CInt> = state.withLock { s in
            s.stopping = true
            return s.fds
        }
        shutdown(listenFD, Int32(SHUT_RDWR))
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        wake.lock()
        wake.broadcast()
        wake.unlock()
        _ = threads.wait(timeout: .now() + 10)
        close(listenFD)
    }

    deinit {
        if !state.withLock({ $0.stopping }) { stop() }
    }

    private func spawn(_ body: @escaping @Sendable (FakeUpstream) -> Void) {
        threads.enter()
        let thread = Thread { [self] in
            body(self)
            threads.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let registered = state.withLock { s -> Bool in
                guard !s.stopping else { return false }
                s.fds.insert(fd)
                s.counters.connections += 1
                return true
            }
            guard registered else {
                close(fd)
                return
            }
            spawn { $0.serve(fd) }
        }
    }

    private func serve(_ fd: CInt) {
        let reader = SocketReader(fd: fd)
        defer {
            state.withLock { _ = $0.fds.remove(fd) }
            close(fd)
        }
        if behavior.neverRead {
            waitUntilStopping()
            return
        }
        var onThisConnection = 0
        while let head = try? reader.readHead() {
            onThisConnection += 1
            state.withLock { s in
                s.counters.requests += 1
                s.counters.active += 1
                s.seen.append(head)
            }
            var keepAlive = head.version == "HTTP/1.1" && head.header("connection")?.lowercased() != "close"
            if behavior.tunnel, let offer = head.header("upgrade") {
                tunnel(fd, reader, offer: offer, key: head.header("sec-websocket-key") ?? "")
                return
            }
            if behavior.answerBeforeBody {
                let ok = respond(fd, behavior, body: BodySink(), keepAlive: true, headOnly: head.method == "HEAD")
                _ = try? reader.readBody(head, into: BodySink())
                finish(completed: ok)
                return
            }
            let body = BodySink()
            let pauseMs = behavior.bodyPauseMs
            if pauseMs > 0 { body.pause(after: behavior.bodyPauseAfter) { [self] in sleepUnlessStopping(ms: pauseMs) } }
            guard (try? reader.readBody(head, into: body)) != nil else {
                finish(completed: false)
                return
            }
            state.withLock { $0.counters.bodyBytes += body.count }
            waitWhileHeld(head.target)
            let b = behavior
            if b.delayMs > 0 { sleepUnlessStopping(ms: b.delayMs) }
            if b.hangUp || b.hangUpFromRequest.map({ onThisConnection >= $0 }) == true {
                state.withLock { $0.counters.active -= 1 }
                return
            }
            if let raw = b.rawAnswer {
                finish(completed: write(fd, Array(raw.utf8)))
                return
            }
            if b.closeDelimited || b.connectionClose { keepAlive = false }
            let ok = respond(fd, b, body: body, keepAlive: keepAlive, headOnly: head.method == "HEAD")
            finish(completed: ok)
            if !ok || !keepAlive || stopping { return }
        }
    }

    /// Counters: the request completes when the tunnel ends; `bodyBytes` counts the bytes echoed.
    private func tunnel(_ fd: CInt, _ reader: SocketReader, offer: String, key: String) {
        let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: \(offer)\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: accept-\(key)\r\nX-Upstream-Id: \(id)\r\n\r\nhello \(id)\n"
        guard write(fd, Array(answer.utf8)) else { return finish(completed: false) }
        let b = behavior
        if b.tunnelCloseAfterGreeting { return finish(completed: true) }
        if b.tunnelReset {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            return finish(completed: true)  // (the close that follows resets)
        }
        if let total = b.tunnelSendThenEnd {
            var sent = 0
            while sent < total {
                let n = min(Self.block.count, total - sent)
                guard Self.block.withUnsafeBytes({ writeAll(fd, $0.baseAddress!, n) }) else { return finish(completed: false) }
                sent += n
                state.withLock { $0.counters.bytesSent += n }
            }
            shutdown(fd, Int32(SHUT_WR))
        }
        if b.tunnelReadDelayMs > 0 { sleepUnlessStopping(ms: b.tunnelReadDelayMs) }
        while let bytes = reader.readSome() {
            state.withLock { $0.counters.bodyBytes += bytes.count }
            if b.tunnelSilent || b.tunnelSendThenEnd != nil { continue }
            guard write(fd, bytes) else { return finish(completed: false) }
        }
        finish(completed: true)
    }

    private func finish(completed: Bool) {
        state.withLock { s in
            s.counters.active -= 1
            if completed { s.counters.completed += 1 } else { s.counters.aborted += 1 }
        }
    }

    /// Lets held requests (`holdPrefix`) go on, and answers later ones at once.
    public func release() {
        wake.lock()
        state.withLock { $0.behavior.holdPrefix = nil }
        wake.broadcast()
        wake.unlock()
    }

    private func waitWhileHeld(_ target: String) {
        var counted = false
        wake.lock()
        while !stopping, let prefix = behavior.holdPrefix, target.hasPrefix(prefix) {
            if !counted {
                counted = true
                state.withLock { $0.counters.held += 1 }
            }
            wake.wait()
        }
        if counted { state.withLock { $0.counters.held -= 1 } }
        wake.unlock()
    }

    private func waitUntilStopping() {
        wake.lock()
        while !stopping { wake.wait() }
        wake.unlock()
    }

    private func sleepUnlessStopping(ms: Int) {
        let deadline = Date().addingTimeInterval(Double(ms) / 1000)
        wake.lock()
        while !stopping && Date() < deadline { _ = wake.wait(until: deadline) }
        wake.unlock()
    }

    /// Writes the answer; false when the peer went away first.
    private func respond(_ fd: CInt, _ b: Behavior, body: BodySink, keepAlive: Bool, headOnly: Bool) -> Bool {
        let reason = b.status == 200 ? "OK" : "Status"
        var head = (b.closeDelimited ? "HTTP/1.0" : "HTTP/1.1") + " \(b.status) \(reason)\r\n"
        head += "X-Upstream-Id: \(id)\r\nX-Body-Bytes: \(body.count)\r\nX-Body-Pattern: \(body.patternOK ? "ok" : "no")\r\n"
        head += "Content-Type: \(b.bodyBytes == nil ? "text/plain" : "application/octet-stream")\r\n"
        let small: [UInt8] = b.echo ? body.kept : Array(id.utf8)
        let length = b.bodyBytes ?? small.count
        if b.closeDelimited {
            // HTTP/1.0 closes by default: no Connection header, as python's http.server for a 200.
        } else if b.chunked {
            head += "Transfer-Encoding: chunked\r\n"
        } else {
            head += "Content-Length: \(length)\r\n"
        }
        if !keepAlive && !b.closeDelimited { head += "Connection: close\r\n" }
        guard write(fd, Array((head + "\r\n").utf8)) else { return false }
        if headOnly { return true }
        if b.chunked, let total = b.bodyBytes {
            // A generated body in chunks of up to one block.
            var sent = 0
            while sent < total {
                let n = min(Self.block.count, total - sent)
                guard write(fd, Array((String(n, radix: 16) + "\r\n").utf8)) else { return false }
                let ok = Self.block.withUnsafeBytes { raw in writeAll(fd, raw.baseAddress!, n) }
                guard ok, write(fd, [13, 10]) else { return false }
                sent += n
                state.withLock { $0.counters.bytesSent += n }
            }
            return write(fd, Array("0\r\n\r\n".utf8))
        }
        if b.chunked {
            let mid = small.count / 2
            for piece in [Array(small[..<mid]), Array(small[mid...])] where !piece.isEmpty {
                guard write(fd, Array((String(piece.count, radix: 16) + "\r\n").utf8) + piece + [13, 10]) else { return false }
            }
            return write(fd, Array("0\r\n\r\n".utf8))
        }
        guard let total = b.bodyBytes else { return write(fd, small) }
        var sent = 0
        while sent < total {
            let n = min(Self.block.count, total - sent)
            let ok = Self.block.withUnsafeBytes { raw in writeAll(fd, raw.baseAddress!, n) }
            guard ok else { return false }
            sent += n
            state.withLock { $0.counters.bytesSent += n }
        }
        return true
    }

    private func write(_ fd: CInt, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll(fd, $0.baseAddress!, $0.count) }
    }

    private func writeAll(_ fd: CInt, _ base: UnsafeRawPointer, _ count: Int) -> Bool {
        var off = 0
        while off < count {
            let n = Glibc.send(fd, base + off, count - off, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            off += n
        }
        return true
    }
}
