import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A minimal keep-alive HTTP upstream on a free 127.0.0.1 port for runs of the built daemon:
/// answers every GET with its id (`X-Upstream-Id` and the body) and counts requests. Requests
/// whose target starts with `holdPrefix` wait until `release()`, so a test can keep requests in
/// flight at an upstream for as long as it needs. Thread per connection; `stop()` ends them all.
final class HeldUpstream: @unchecked Sendable {
    struct Counters: Sendable {
        var requests = 0
        var held = 0
        var completed = 0
    }

    let id: String
    let port: Int
    private let listenFD: CInt
    private let state = Mutex(State())
    private let wake = NSCondition()
    private let threads = DispatchGroup()

    private struct State {
        var holdPrefix: String?
        var counters = Counters()
        var fds: Set<CInt> = []
        var stopping = false
    }

    init(id: String, holdPrefix: String? = nil) throws {
        self.id = id
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = loopback(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw E2EError("upstream bind/listen failed: \(errno)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listenFD = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        state.withLock { $0.holdPrefix = holdPrefix }
        spawn { $0.acceptLoop() }
    }

    var address: String { "127.0.0.1:\(port)" }
    var counters: Counters { state.withLock { $0.counters } }

    /// Lets held requests go on; later ones are answered at once.
    func release() {
        wake.lock()
        state.withLock { $0.holdPrefix = nil }
        wake.broadcast()
        wake.unlock()
    }

    func stop() {
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

    private func spawn(_ body: @escaping @Sendable (HeldUpstream) -> Void) {
        threads.enter()
        Thread { [self] in
            body(self)
            threads.leave()
        }.start()
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let ok = state.withLock { s -> Bool in
                guard !s.stopping else { return false }
                s.fds.insert(fd)
                return true
            }
            guard ok else {
                close(fd)
                return
            }
            spawn { $0.serve(fd) }
        }
    }

    /// Reads request heads (no bodies: GETs only) and answers each.
    private func serve(_ fd: CInt) {
        defer {
            state.withLock { _ = $0.fds.remove(fd) }
            close(fd)
        }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            guard let end = headEnd(buffer) else {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
                guard n > 0 else { return }
                buffer += chunk[..<n]
                continue
            }
            let head = String(decoding: buffer[..<end], as: UTF8.self)
            buffer.removeFirst(end + 4)
            let target = head.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            state.withLock { $0.counters.requests += 1 }
            waitWhileHeld(target)
            let body = Array(id.utf8)
            let response = "HTTP/1.1 200 OK\r\nX-Upstream-Id: \(id)\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\n\r\n"
            let bytes = Array(response.utf8) + body
            let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == bytes.count else { return }
            state.withLock { $0.counters.completed += 1 }
        }
    }

    private func headEnd(_ data: [UInt8]) -> Int? {
        guard data.count >= 4 else { return nil }
        for i in 0...(data.count - 4) where data[i] == 13 && data[i + 1] == 10 && data[i + 2] == 13 && data[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func waitWhileHeld(_ target: String) {
        var counted = false
        wake.lock()
        while !state.withLock({ $0.stopping }), let prefix = state.withLock({ $0.holdPrefix }), target.hasPrefix(prefix) {
            if !counted {
                counted = true
                state.withLock { $0.counters.held += 1 }
            }
            wake.wait()
        }
        if counted { state.withLock { $0.counters.held -= 1 } }
        wake.unlock()
    }
}
