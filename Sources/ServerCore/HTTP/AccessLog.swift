#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// nginx "combined" access log, buffered: request threads only append to a bounded in-memory
/// buffer under a lock; a background thread writes it out every 100 ms (or when it passes 64 KiB).
/// Off unless `access_log` is set (`"stdout"`/`"-"` or a file path, opened for append).
///
/// A reload keeps the running one when `access_log` names the same destination; for another it
/// opens a new one and drops the old one, which stays open while anything still holds it (a
/// response streamed since before the reload logs at its end) and closes when the last holder
/// lets go (`deinit`: what is buffered is written first). `close` (shutdown) closes it at
/// once; lines appended after that are dropped, never written to a descriptor number that may
/// have been reused.
public final class AccessLog: Sendable {
    /// The `access_log` value it was opened for.
    let path: String
    /// The buffer and the descriptor. The flush thread holds this, not the log: a weak
    /// reference to the log (which requests retain) would put it on Swift's slow
    /// reference-counting path, and a strong one would keep it open for good.
    private let sink: Sink
    static let flushThreshold = 64 << 10
    static let maxBuffered = 8 << 20

    public init(destination: String) throws {
        path = destination
        if destination == "-" || destination == "stdout" {
            sink = Sink(fd: STDOUT_FILENO, ownsFD: false)
        } else {
            let fd = open(destination, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw ConfigError("access_log", "cannot open \"\(destination)\": \(String(cString: strerror(errno)))")
            }
            sink = Sink(fd: fd, ownsFD: true)
        }
        let sink = self.sink
        let thread = Thread {
            while !sink.stopped.load(ordering: .relaxed) {
                usleep(100_000)
                sink.flush()
            }
        }
        thread.name = "access-log"
        thread.start()
    }

    /// Appends one line. Drops lines (rather than growing without bound) if the disk cannot keep up.
    public func append(_ line: String) { sink.append(line) }

    public func flush() { sink.flush() }

    /// Reopens the file at the same path (after logrotate moved it); the fd number stays.
    /// Throws (naming the file and why) when it cannot be opened again: lines then keep going to
    /// the file as it was (renamed away by a rotation, or deleted).
    public func reopen() throws {
        guard sink.ownsFD else { return }
        sink.flush()
        try sink.output.withLock { fd in
            guard let fd else { return }
            let fresh = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fresh >= 0 else { throw ConfigError("access_log", "cannot reopen \"\(path)\": \(String(cString: strerror(errno)))") }
            dup2(fresh, fd)
            _ = Glibc.close(fresh)
        }
    }

    /// Writes what is buffered and closes the file now (shutdown); later lines are dropped.
    public func close() { sink.close() }

    deinit { close() }

    private final class Sink: Sendable {
        let ownsFD: Bool
        let buffer = Mutex<[UInt8]>([])
        /// The descriptor, nil once closed; writes hold the lock, so a close never lands mid-write.
        let output: Mutex<CInt?>
        let stopped = Atomic<Bool>(false)

        init(fd: CInt, ownsFD: Bool) {
            output = Mutex(fd)
            self.ownsFD = ownsFD
        }

        func append(_ line: String) {
            var flushNow = false
            buffer.withLock { b in
                guard b.count < AccessLog.maxBuffered else { return }
                b.append(contentsOf: line.utf8)
                b.append(UInt8(ascii: "\n"))
                flushNow = b.count >= AccessLog.flushThreshold
            }
            if flushNow { flush() }
        }

        func flush() {
            let data: [UInt8] = buffer.withLock { b in
                let d = b
                b.removeAll(keepingCapacity: true)
                return d
            }
            guard !data.isEmpty else { return }
            output.withLock { fd in
                guard let fd else { return }  // closed: dropped
                var offset = 0
                while offset < data.count {
                    let n = data[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    offset += n
                }
            }
        }

        func close() {
            stopped.store(true, ordering: .relaxed)
            flush()
            output.withLock { fd in
                if let open = fd, ownsFD { _ = Glibc.close(open) }
                fd = nil
            }
        }
    }

    /// `$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`
    public static func combinedLine(
        client: String, time: Int, requestLine: String, status: Int, bytes: Int, referer: String?, userAgent: String?
    ) -> String {
        "\(client) - - [\(localTime(time))] \"\(escape(requestLine))\" \(status) \(bytes) \"\(escape(referer ?? "-"))\" \"\(escape(userAgent ?? "-"))\""
    }

    /// Like nginx, escape `"`, `\` and control bytes as `\xHH`.
    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 || b >= 0x7F {
                out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            } else {
                out.unicodeScalars.append(UnicodeScalar(b))
            }
        }
        return out
    }

    /// `10/Oct/2000:13:55:36 +0000` (UTC, as containers usually run).
    static func localTime(_ epoch: Int) -> String {
        var t = time_t(epoch)
        var tm = tm()
        gmtime_r(&t, &tm)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(tm.tm_mday))/\(months[Int(tm.tm_mon)])/\(tm.tm_year + 1900):\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) +0000"
    }
}
