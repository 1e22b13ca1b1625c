import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Active health checks (`health_check`): every `interval_ms`, each upstream of the route gets
/// `GET path` on a new connection; a 2xx/3xx status within `timeout_ms` is a success. `fall`
/// failures in a row mark it down, `rise` successes up (`UpstreamState.recordCheck`). One check
/// per address even if several routes list it (the config refuses different checks for one
/// address: `XPSConfig.checkOneHealthCheckPerUpstream`).
///
/// A reload leaves an address's check running as it is when its settings are the same (its
/// cadence, and a probe in flight, carry on: reloads more frequent than `interval_ms`, or than a
/// failing probe's `timeout_ms`, would otherwise keep every verdict from being recorded); a check
/// whose settings changed starts again, and a probe of the replaced one records nothing. An
/// upstream no check watches after a reload is no longer down by an earlier check's verdict.
final class HealthChecker: Sendable {
    private let group: EventLoopGroup
    /// The running check of each address.
    private let watches = Mutex<[String: Watch]>([:])

    /// One address's running check and the settings it runs with.
    final class Watch: Sendable {
        let check: XPSConfig.HealthCheck
        let host: String
        let port: Int
        private let task = Mutex<RepeatedTask?>(nil)
        /// Its probes' verdicts count (not stopped or replaced).
        private let live = Atomic<Bool>(true)

        init(check: XPSConfig.HealthCheck, host: String, port: Int) {
            self.check = check
            self.host = host
            self.port = port
        }

        func runs(_ check: XPSConfig.HealthCheck, host: String, port: Int) -> Bool {
            self.check == check && self.host == host && self.port == port
        }

        var isLive: Bool { live.load(ordering: .relaxed) }

        func start(_ state: UpstreamState, on loop: EventLoop) {
            let check = self.check, host = self.host, port = self.port
            let interval = TimeAmount.milliseconds(Int64(check.intervalMs))
            let started = loop.scheduleRepeatedAsyncTask(initialDelay: interval, delay: interval) { [self] _ in
                HealthChecker.probe(host: host, port: port, path: check.path, timeout: .milliseconds(Int64(check.timeoutMs)), on: loop)
                    .map { ok in
                        state.recordCheck(ok: ok, now: Date().timeIntervalSince1970, fall: check.fall, rise: check.rise, if: { self.isLive })
                    }
            }
            task.withLock { $0 = started }
        }

        func stop() {
            live.store(false, ordering: .relaxed)
            task.withLock { t in
                t?.cancel()
                t = nil
            }
        }
    }

    init(group: EventLoopGroup) {
        self.group = group
    }

    func start(_ config: RuntimeConfig) {
        let running = watches.withLock { $0 }
        var next: [String: Watch] = [:]
        let routes = UpstreamControl.proxyRoutes(config)
        for (_, route) in routes {
            guard let check = route.healthCheck else { continue }
            for member in route.group.members where next[member.state.address] == nil {
                let host = member.config.host, port = member.config.port
                if let watch = running[member.state.address], watch.runs(check, host: host, port: port) {
                    next[member.state.address] = watch
                    continue
                }
                let watch = Watch(check: check, host: host, port: port)
                watch.start(member.state, on: group.next())
                next[member.state.address] = watch
            }
        }
        for (address, watch) in running where next[address] !== watch { watch.stop() }
        for (_, route) in routes {
            for member in route.group.members where next[member.state.address] == nil { member.state.clearActiveHealth() }
        }
        watches.withLock { $0 = next }
    }

    func stop() {
        for watch in watches.withLock({ w in defer { w.removeAll() }; return Array(w.values) }) { watch.stop() }
    }

    /// One check: true for a 2xx/3xx status line within `timeout`.
    static func probe(host: String, port: Int, path: String, timeout: TimeAmount, on loop: EventLoop) -> EventLoopFuture<Bool> {
        let promise = loop.makePromise(of: Bool.self)
        let deadline = loop.scheduleTask(in: timeout) { promise.succeed(false) }
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StatusLineReader(promise: promise))
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    var request = channel.allocator.buffer(capacity: 128)
                    let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
                    request.writeString("GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: expserverd-health\r\nConnection: close\r\n\r\n")
                    channel.writeAndFlush(request, promise: nil)
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case .failure:
                    promise.succeed(false)
                }
            }
        return promise.futureResult.always { _ in deadline.cancel() }
    }
}

/// Reads until the status line of a response is complete and reports whether it is 2xx/3xx.
private final class StatusLineReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<Bool>
    var seen: [UInt8] = []

    init(promise: EventLoopPromise<Bool>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        seen.append(contentsOf: buffer.readableBytesView.prefix(64 - min(seen.count, 64)))
        if seen.count >= 12 {
            let line = String(decoding: seen, as: UTF8.self)
            let ok = line.hasPrefix("HTTP/1.") && (line.dropFirst(9).first == "2" || line.dropFirst(9).first == "3")
            promise.succeed(ok)
        }
    }

    func channelInactive(context: ChannelHandlerContext) { promise.succeed(false) }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.succeed(false)
        context.close(promise: nil)
    }
}
