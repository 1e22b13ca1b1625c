import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Active health checks (`health_check`): every `interval_ms`, each upstream of the route gets
/// `GET path` on a new connection; a 2xx/3xx status within `timeout_ms` is a success. `fall`
/// failures in a row mark it down, `rise` successes up (`UpstreamState.recordCheck`). Restarted
/// with the config on reload; one check per address even if several routes list it (the config
/// refuses different checks for one address: `XPSConfig.checkOneHealthCheckPerUpstream`). An
/// upstream no check watches after a reload is no longer down by an earlier check's verdict, and
/// a check still running from the earlier config records nothing. A reload keeps each address's
/// cadence (its next check comes `interval_ms` after its last one began, not after the reload),
/// so reloads more frequent than the interval do not put checks off for good.
final class HealthChecker: Sendable {
    private let group: EventLoopGroup
    private let tasks = Mutex<[RepeatedTask]>([])
    /// When each address's last check began (or its checks were first scheduled).
    private let lastCheck = Mutex<[String: NIODeadline]>([:])
    /// Moves on at each start: a probe records its result only if it is still current.
    private let epoch = Atomic<UInt64>(0)

    init(group: EventLoopGroup) {
        self.group = group
    }

    func start(_ config: RuntimeConfig) {
        stop()
        let current = epoch.add(1, ordering: .relaxed).newValue
        var checked = Set<String>()
        var started: [RepeatedTask] = []
        let routes = UpstreamControl.proxyRoutes(config)
        for (_, route) in routes {
            guard let check = route.healthCheck else { continue }
            for member in route.group.members where checked.insert(member.state.address).inserted {
                let loop = group.next()
                let state = member.state
                let host = member.config.host, port = member.config.port
                let interval = TimeAmount.milliseconds(Int64(check.intervalMs))
                // (An address checked for the first time starts its cadence now.)
                let now = NIODeadline.now()
                let last = lastCheck.withLock { l in l[state.address] ?? { l[state.address] = now; return now }() }
                let first = max(.zero, interval - (now - last))
                let task = loop.scheduleRepeatedAsyncTask(initialDelay: first, delay: interval) { _ in
                    self.lastCheck.withLock { $0[state.address] = .now() }
                    return Self.probe(host: host, port: port, path: check.path, timeout: .milliseconds(Int64(check.timeoutMs)), on: loop)
                        .map { ok in
                            state.recordCheck(ok: ok, now: Date().timeIntervalSince1970, fall: check.fall, rise: check.rise,
                                              if: { self.epoch.load(ordering: .relaxed) == current })
                        }
                }
                started.append(task)
            }
        }
        for (_, route) in routes {
            for member in route.group.members where !checked.contains(member.state.address) { member.state.clearActiveHealth() }
        }
        tasks.withLock { $0 = started }
    }

    func stop() {
        for task in tasks.withLock({ t in defer { t.removeAll() }; return t }) { task.cancel() }
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
