import Foundation
import Synchronization

/// Client threads that each send GETs in a loop on a keep-alive connection (reconnecting when
/// the server closes it) until stopped, counting answers by upstream id and every failure
/// (anything but a 200, a connection error or a timeout).
final class LoadGenerator: @unchecked Sendable {
    struct Tally: Sendable {
        var ok = 0
        var byID: [String: Int] = [:]
        var failures: [String] = []
    }

    private let port: Int
    private let paths: [String]
    private let stopping = Atomic<Bool>(false)
    private let tally = Mutex(Tally())
    private let group = DispatchGroup()

    /// One thread per entry of `paths` (each thread requests its own path).
    init(port: Int, paths: [String]) {
        self.port = port
        self.paths = paths
    }

    var snapshot: Tally { tally.withLock { $0 } }

    func start() {
        for path in paths {
            group.enter()
            let thread = Thread { [self] in
                run(path)
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Stops the loops (each finishes its current request) and waits for them, bounded.
    func stop(timeout: TimeInterval = 30) -> Bool {
        stopping.store(true, ordering: .relaxed)
        return group.wait(timeout: .now() + timeout) == .success
    }

    private func run(_ path: String) {
        var client: FramedClient?
        while !stopping.load(ordering: .relaxed) {
            do {
                if client == nil { client = try FramedClient(port: port, timeout: 20) }
                try client!.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
                let (r, _) = try client!.readResponse()
                if r.header("Connection")?.lowercased() == "close" { client = nil }
                tally.withLock { t in
                    if r.status == 200, let id = r.header("X-Upstream-Id") {
                        t.ok += 1
                        t.byID[id, default: 0] += 1
                    } else {
                        t.failures.append("\(path): status \(r.status)")
                    }
                }
            } catch {
                client = nil
                tally.withLock { $0.failures.append("\(path): \(error)") }
            }
        }
    }
}
