import NIOCore
import NIOPosix
import Synchronization

/// `expbench relay PORT HOST:PORT...`: a raw TCP relay on 127.0.0.1:PORT, for bench/proxy.sh's
/// reference row. Each client connection gets its own upstream connection (round robin over the
/// upstreams) and bytes are copied both ways, nothing parsed: the cost of NIO's channels alone
/// for the same traffic, the floor under any proxy built on them.
enum Relay {
    /// Copies what one side reads to the other, flushing at the end of each read burst.
    final class Pipe: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        // Confined to the connection's event loop (both sides of a pair share it).
        private var partner: Channel?
        private var pending: [ByteBuffer] = []

        init(partner: Channel? = nil) { self.partner = partner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = Self.unwrapInboundIn(data)
            if let partner { partner.write(buffer, promise: nil) } else { pending.append(buffer) }
        }

        func channelReadComplete(context: ChannelHandlerContext) { partner?.flush() }

        func channelInactive(context: ChannelHandlerContext) {
            partner?.close(promise: nil)
            partner = nil
        }

        func connect(to upstream: Channel) {
            partner = upstream
            for buffer in pending { upstream.write(buffer, promise: nil) }
            pending = []
            upstream.flush()
        }
    }

    /// Which upstream the next client connection goes to.
    final class RoundRobin: Sendable {
        private let next = Atomic<Int>(0)
        func take(_ count: Int) -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue % count }
    }

    static func run(port: Int, upstreams: [SocketAddress]) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let roundRobin = RoundRobin()
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { client in
                let pipe = Pipe()
                let upstream = upstreams[roundRobin.take(upstreams.count)]
                let bound = NIOLoopBound(pipe, eventLoop: client.eventLoop)
                return client.pipeline.addHandler(pipe).flatMap {
                    ClientBootstrap(group: client.eventLoop)
                        .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                        .channelInitializer { $0.pipeline.addHandler(Pipe(partner: client)) }
                        .connect(to: upstream)
                        .map { bound.value.connect(to: $0) }
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
        try server.closeFuture.wait()
    }
}
