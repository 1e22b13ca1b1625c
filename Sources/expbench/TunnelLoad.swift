import Foundation
import NIOCore
import ServerCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `expbench tunnel-load [--threads N] [--handshake] HOST:PORT CONNECTIONS SECONDS MESSAGE_BYTES`:
/// the load generator of bench/tunnel.sh. Each of CONNECTIONS connections sends a WebSocket
/// upgrade offer (`GET /ws HTTP/1.1`, `Upgrade: websocket`, `Connection: Upgrade`, a key, version
/// 13), checks that the answer is a 101 with `Upgrade: websocket` and the key's
/// `Sec-WebSocket-Accept` (RFC 6455), then makes sequential round
/// trips for SECONDS: MESSAGE_BYTES go out, the same number must come back, byte for byte (the
/// first 8 bytes carry the round trip's sequence number, so a stale or reordered echo fails too).
/// `--handshake` measures new tunnels instead: connect, offer, 101, one round trip, close, again.
///
/// Built like wrk: N threads (default: the number of cores), each one poll(2) loop over its share
/// of the connections (Glibc's Swift module has no epoll; a few dozen descriptors per poll cost
/// little), non-blocking sockets, no allocation per round trip; every round trip's latency is kept
/// (8 bytes each) and sorted at the end for exact percentiles. It prints one line of
/// `key=value` pairs (see `Totals.line`). A failed connection (refused, an answer other than 101,
/// a wrong echo, a close or reset mid-way) counts as an error and is replaced by a new one; a round
/// trip still waiting for its echo over a second when the time is up counts as `stalled` (an error
/// too). Only IPv4 literals.
enum TunnelLoad {
    struct Config: Sendable {
        var address: sockaddr_in
        var hostPort: String
        var connections: Int
        var seconds: Double
        var messageBytes: Int
        var threads: Int
        var handshakeMode: Bool
    }

    /// What one thread measured.
    struct Part: Sendable {
        var latencies: [UInt64] = []  // nanoseconds, one per completed round trip
        var errors = 0
        var stalled = 0
        var handshakes = 0
        var firstError: String?
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data(
            "usage: expbench tunnel-load [--threads N] [--handshake] HOST:PORT CONNECTIONS SECONDS MESSAGE_BYTES (an IPv4 literal)\n".utf8))
        exit(64)
    }

    static func main(_ arguments: [String]) {
        var rest = arguments[...]
        var threads = System.coreCount
        var handshakeMode = false
        while let flag = rest.first, flag.hasPrefix("--") {
            rest = rest.dropFirst()
            switch flag {
            case "--handshake": handshakeMode = true
            case "--threads":
                guard let n = rest.first.flatMap(Int.init), n > 0 else { usage() }
                threads = n
                rest = rest.dropFirst()
            default: usage()
            }
        }
        let positional = Array(rest)
        guard positional.count == 4,
              let colon = positional[0].lastIndex(of: ":"),
              let port = UInt16(positional[0][positional[0].index(after: colon)...]),
              let connections = Int(positional[1]), connections > 0,
              let seconds = Double(positional[2]), seconds > 0,
              let messageBytes = Int(positional[3]), messageBytes > 0
        else { usage() }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, String(positional[0][..<colon]), &address.sin_addr) == 1 else { usage() }
        let config = Config(
            address: address, hostPort: positional[0], connections: connections, seconds: seconds,
            messageBytes: messageBytes, threads: min(threads, connections), handshakeMode: handshakeMode)
        print(run(config).line(config))
    }

    struct Totals {
        var roundTrips = 0
        var elapsed = 0.0
        var p50 = 0.0, p90 = 0.0, p99 = 0.0, max = 0.0  // milliseconds
        var errors = 0, stalled = 0, handshakes = 0
        var cpuSeconds = 0.0
        var firstError: String?

        func line(_ c: Config) -> String {
            let rate = elapsed > 0 ? Double(roundTrips) / elapsed : 0
            var s = String(
                format: "mode=%@ connections=%d threads=%d bytes=%d seconds=%.3f round_trips=%d rt_per_s=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f handshakes=%d errors=%d stalled=%d cpu_s=%.3f",
                c.handshakeMode ? "handshake" : "roundtrip", c.connections, c.threads, c.messageBytes, elapsed,
                roundTrips, rate, p50, p90, p99, max, handshakes, errors + stalled, stalled, cpuSeconds)
            if let firstError { s += " first_error=\"\(firstError)\"" }
            return s
        }
    }

    static func run(_ config: Config) -> Totals {
        let parts = Mutex<[Part]>([])
        let group = DispatchGroup()
        let cpu0 = cpuSeconds()
        let start = monotonicNanos()
        let deadline = start + UInt64(config.seconds * 1e9)
        for t in 0..<config.threads {
            // Connections t, t + threads, ...: as even a split as can be.
            let count = config.connections / config.threads + (t < config.connections % config.threads ? 1 : 0)
            group.enter()
            let thread = Thread {
                var worker = Worker(config: config, connections: count, seed: UInt64(t + 1), deadline: deadline)
                let part = worker.run()
                parts.withLock { $0.append(part) }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        var totals = Totals()
        totals.elapsed = Double(deadline - start) / 1e9  // round trips are counted up to the deadline only
        totals.cpuSeconds = cpuSeconds() - cpu0
        var all: [UInt64] = []
        parts.withLock { list in
            all.reserveCapacity(list.reduce(0) { $0 + $1.latencies.count })
            for part in list {
                all.append(contentsOf: part.latencies)
                totals.errors += part.errors
                totals.stalled += part.stalled
                totals.handshakes += part.handshakes
                if totals.firstError == nil { totals.firstError = part.firstError }
            }
        }
        all.sort()
        totals.roundTrips = all.count
        func percentile(_ p: Double) -> Double {
            guard !all.isEmpty else { return 0 }
            let i = min(all.count - 1, Int((p * Double(all.count)).rounded(.up)) - 1)
            return Double(all[max(0, i)]) / 1e6
        }
        totals.p50 = percentile(0.50)
        totals.p90 = percentile(0.90)
        totals.p99 = percentile(0.99)
        totals.max = Double(all.last ?? 0) / 1e6
        return totals
    }

    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// One connection's state.
    struct Connection {
        enum Phase { case idle, connecting, offering, handshake, sending, receiving, done }
        var fd: Int32 = -1
        var phase = Phase.idle
        var openedAt: UInt64 = 0
        var sentAt: UInt64 = 0  // start of the current round trip
        var sequence: UInt64 = 0
        var written = 0  // of the offer or of the payload
        var received = 0  // of the answer's head or of the echo
        var payload: [UInt8]
        var echo: [UInt8]

        init(messageBytes: Int, rng: inout SplitMix64) {
            payload = (0..<messageBytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            echo = [UInt8](repeating: 0, count: messageBytes)
        }
    }

    /// One thread's poll loop over its connections.
    struct Worker {
        let config: Config
        let deadline: UInt64
        let offer: [UInt8]
        /// The `Sec-WebSocket-Accept` line the 101 must carry (lowercased).
        let acceptLine: String
        var conns: [Connection]
        var head = [UInt8](repeating: 0, count: 4096)
        var part = Part()
        /// One entry per connection (a negative fd while it has none: poll skips it).
        var polls: [pollfd]

        init(config: Config, connections: Int, seed: UInt64, deadline: UInt64) {
            self.config = config
            self.deadline = deadline
            var rng = SplitMix64(seed: seed)
            conns = (0..<connections).map { _ in Connection(messageBytes: config.messageBytes, rng: &rng) }
            let key = Data((0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).base64EncodedString()
            acceptLine = "\r\nsec-websocket-accept: \(WebSocketAccept.value(forKey: key))\r\n".lowercased()
            offer = Array(("GET /ws HTTP/1.1\r\nHost: \(config.hostPort)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
            part.latencies.reserveCapacity(1 << 20)
            polls = [pollfd](repeating: pollfd(fd: -1, events: 0, revents: 0), count: connections)
        }

        mutating func run() -> Part {
            for i in conns.indices { open(i) }
            while true {
                let now = TunnelLoad.monotonicNanos()
                if now >= deadline { break }
                let waitMs = Int32(min(100, (deadline - now) / 1_000_000 + 1))
                let n = polls.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), waitMs) }
                if n < 0 {
                    if errno == EINTR { continue }
                    note("poll: \(String(cString: strerror(errno)))")
                    break
                }
                var left = Int(n)
                for i in polls.indices where left > 0 && polls[i].revents != 0 {
                    left -= 1
                    polls[i].revents = 0
                    if conns[i].fd >= 0 { handle(i) }
                }
            }
            // Time is up: a round trip (or a handshake) left waiting over a second has stalled.
            let end = TunnelLoad.monotonicNanos()
            for i in conns.indices where conns[i].fd >= 0 {
                switch conns[i].phase {
                case .sending, .receiving:
                    if end - conns[i].sentAt > 1_000_000_000 { part.stalled += 1 }
                case .connecting, .offering, .handshake:
                    if end - conns[i].openedAt > 1_000_000_000 { part.stalled += 1 }
                default: break
                }
                close(conns[i].fd)
                conns[i].fd = -1
            }
            return part
        }

        /// An error that ends no connection (or one that is closed already).
        mutating func note(_ why: String) {
            part.errors += 1
            if part.firstError == nil { part.firstError = why }
        }

        /// Connection `i` failed: count it, and put a new connection in its place.
        mutating func fail(_ i: Int, _ why: String) {
            note(why)
            guard conns[i].fd >= 0 else { return }
            drop(i)
            // A new connection in its place, unless failures pile up (nothing answers at all).
            if part.errors < 1000 { open(i) }
        }

        /// What connection `i` waits for next (`POLLIN` or `POLLOUT`).
        mutating func watch(_ i: Int, _ events: Int16) {
            polls[i].fd = conns[i].fd
            polls[i].events = events
            polls[i].revents = 0
        }

        mutating func drop(_ i: Int) {
            close(conns[i].fd)
            conns[i].fd = -1
            conns[i].phase = .idle
            polls[i].fd = -1
        }

        mutating func open(_ i: Int) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return note("socket: \(String(cString: strerror(errno)))") }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            conns[i].fd = fd
            conns[i].openedAt = TunnelLoad.monotonicNanos()
            conns[i].written = 0
            conns[i].received = 0
            var address = config.address
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if rc == 0 {
                conns[i].phase = .offering
            } else if errno == EINPROGRESS {
                conns[i].phase = .connecting
            } else {
                let why = "connect: \(String(cString: strerror(errno)))"
                close(fd)
                conns[i].fd = -1
                return note(why)
            }
            watch(i, Int16(POLLOUT))
        }

        mutating func handle(_ i: Int) {
            switch conns[i].phase {
            case .connecting:
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(conns[i].fd, SOL_SOCKET, SO_ERROR, &error, &length)
                guard error == 0 else { return fail(i, "connect: \(String(cString: strerror(error)))") }
                conns[i].phase = .offering
                sendOffer(i)
            case .offering:
                sendOffer(i)
            case .handshake:
                readHandshake(i)
            case .sending:
                sendPayload(i)
            case .receiving:
                readEcho(i)
            case .idle, .done:
                break
            }
        }

        mutating func sendOffer(_ i: Int) {
            let fd = conns[i].fd
            while conns[i].written < offer.count {
                let n = offer.withUnsafeBytes { write(fd, $0.baseAddress! + conns[i].written, $0.count - conns[i].written) }
                if n < 0 {
                    if errno == EAGAIN || errno == EINTR { return }
                    return fail(i, "write: \(String(cString: strerror(errno)))")
                }
                conns[i].written += n
            }
            conns[i].phase = .handshake
            conns[i].received = 0
            watch(i, Int16(POLLIN))
        }

        mutating func readHandshake(_ i: Int) {
            let fd = conns[i].fd
            let got = conns[i].received
            guard got < head.count else { return fail(i, "answer head over \(head.count) bytes") }
            let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return }
                return fail(i, "read (handshake): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return fail(i, "closed before the 101") }
            conns[i].received += n
            let total = conns[i].received
            // The end of the head; nothing may follow it (the echo server sends nothing unasked).
            var end = -1
            if total >= 4 {
                for j in 0...(total - 4) where head[j] == 13 && head[j + 1] == 10 && head[j + 2] == 13 && head[j + 3] == 10 {
                    end = j + 4
                    break
                }
            }
            guard end >= 0 else { return }
            let text = String(decoding: head[0..<end], as: UTF8.self)
            guard text.hasPrefix("HTTP/1.1 101") else {
                return fail(i, "not a 101: \(text.split(separator: "\r\n").first ?? "")")
            }
            let lower = text.lowercased()
            guard lower.contains("\r\nupgrade: websocket\r\n") else { return fail(i, "101 without Upgrade: websocket") }
            guard lower.contains(acceptLine) else { return fail(i, "101 without the key's Sec-WebSocket-Accept") }
            guard end == total else { return fail(i, "bytes after the 101 before any were sent") }
            part.handshakes += 1
            startRoundTrip(i)
        }

        mutating func startRoundTrip(_ i: Int) {
            conns[i].sequence &+= 1
            let sequence = conns[i].sequence
            conns[i].payload.withUnsafeMutableBytes { bytes in
                withUnsafeBytes(of: sequence) { seq in
                    bytes.baseAddress!.copyMemory(from: seq.baseAddress!, byteCount: min(8, bytes.count))
                }
            }
            conns[i].written = 0
            conns[i].received = 0
            conns[i].phase = .sending
            if !config.handshakeMode { conns[i].sentAt = TunnelLoad.monotonicNanos() } else { conns[i].sentAt = conns[i].openedAt }
            sendPayload(i, watching: Int16(POLLIN))
        }

        /// `watching`: what the connection is registered for now.
        mutating func sendPayload(_ i: Int, watching: Int16 = Int16(POLLOUT)) {
            let fd = conns[i].fd
            while conns[i].written < conns[i].payload.count {
                let off = conns[i].written
                let n = conns[i].payload.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN {
                        if watching != Int16(POLLOUT) { watch(i, Int16(POLLOUT)) }
                        return
                    }
                    return fail(i, "write: \(String(cString: strerror(errno)))")
                }
                conns[i].written += n
            }
            conns[i].phase = .receiving
            if watching != Int16(POLLIN) { watch(i, Int16(POLLIN)) }
            // (The echo may be there already: it is read when poll says so.)
        }

        mutating func readEcho(_ i: Int) {
            let fd = conns[i].fd
            while conns[i].received < conns[i].echo.count {
                let got = conns[i].received
                let n = conns[i].echo.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN { return }
                    return fail(i, "read: \(String(cString: strerror(errno)))")
                }
                if n == 0 { return fail(i, "closed mid round trip (\(got) of \(conns[i].echo.count) bytes back)") }
                conns[i].received += n
            }
            let now = TunnelLoad.monotonicNanos()
            let same = conns[i].payload.withUnsafeBytes { p in conns[i].echo.withUnsafeBytes { e in memcmp(p.baseAddress!, e.baseAddress!, p.count) == 0 } }
            guard same else { return fail(i, "the echo differs from what was sent") }
            guard now <= deadline else {  // after the time: not counted
                conns[i].phase = .done
                return
            }
            part.latencies.append(now - conns[i].sentAt)
            if config.handshakeMode {
                drop(i)
                open(i)
            } else {
                startRoundTrip(i)
            }
        }
    }
}
