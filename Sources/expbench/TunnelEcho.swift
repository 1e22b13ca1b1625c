import Foundation
import NIOCore
import NIOPosix

/// `expbench tunnel-echo PORT`: the upstream of bench/tunnel.sh, on 127.0.0.1:PORT, one event
/// loop per core. It reads an HTTP/1.1 request head; one with an `Upgrade` field gets
/// `101 Switching Protocols` (that `Upgrade` value, `Connection: Upgrade`, and the
/// `Sec-WebSocket-Accept` for its `Sec-WebSocket-Key` if it has one: HAProxy turns a WebSocket 101
/// without it into a 502) and from then on every byte that comes is written back as it came (no
/// WebSocket framing: a proxy's tunnel does not parse frames). Anything else gets a 400 and the
/// connection closes.
enum TunnelEcho {
    /// Longest request head read before answering 400.
    static let maxHead = 64 * 1024

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        // Confined to the connection's event loop.
        private var head: ByteBuffer?
        private var echoing = false
        private var unflushed = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = Self.unwrapInboundIn(data)
            if echoing {
                context.write(Self.wrapOutboundOut(buffer), promise: nil)
                unflushed = true
                return
            }
            if head == nil {
                head = buffer
            } else {
                head!.writeBuffer(&buffer)
            }
            guard let end = Self.endOfHead(head!) else {
                if head!.readableBytes > TunnelEcho.maxHead { reject(context) }
                return
            }
            var request = head!
            head = nil
            let text = request.readString(length: end) ?? ""
            request.moveReaderIndex(forwardBy: 4)  // the blank line
            guard let offer = Self.offer(text) else {
                reject(context)
                return
            }
            var answer = context.channel.allocator.buffer(capacity: 160 + offer.upgrade.utf8.count)
            answer.writeString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: \(offer.upgrade)\r\nConnection: Upgrade\r\n")
            if let key = offer.key { answer.writeString("Sec-WebSocket-Accept: \(WebSocketAccept.value(forKey: key))\r\n") }
            answer.writeString("\r\n")
            context.write(Self.wrapOutboundOut(answer), promise: nil)
            if request.readableBytes > 0 {  // bytes sent right behind the head: the tunnel's first
                context.write(Self.wrapOutboundOut(request), promise: nil)
            }
            unflushed = true
            echoing = true
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            guard unflushed else { return }
            unflushed = false
            context.flush()
            // Backpressure: stop reading while the peer does not take what is echoed.
            if !context.channel.isWritable { context.channel.setOption(.autoRead, value: false).whenFailure { _ in } }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable { context.channel.setOption(.autoRead, value: true).whenFailure { _ in } }
            context.fireChannelWritabilityChanged()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            context.close(promise: nil)
        }

        private func reject(_ context: ChannelHandlerContext) {
            head = nil
            var answer = context.channel.allocator.buffer(capacity: 96)
            answer.writeString("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            let channel = context.channel
            context.writeAndFlush(Self.wrapOutboundOut(answer)).whenComplete { _ in channel.close(promise: nil) }
        }

        /// The offset of the `\r\n\r\n` that ends the head in `buffer`, if it has come.
        static func endOfHead(_ buffer: ByteBuffer) -> Int? {
            buffer.withUnsafeReadableBytes { bytes -> Int? in
                guard bytes.count >= 4 else { return nil }
                for i in 0...(bytes.count - 4)
                where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
                    return i
                }
                return nil
            }
        }

        /// The request's `Upgrade` value (an HTTP/1.1 request line and a non-empty value), and its
        /// `Sec-WebSocket-Key` if any.
        static func offer(_ head: String) -> (upgrade: String, key: String?)? {
            let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
            guard let requestLine = lines.first, requestLine.hasSuffix(" HTTP/1.1") else { return nil }
            var upgrade: String?
            var key: String?
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                switch line[..<colon].lowercased() {
                case "upgrade": upgrade = value
                case "sec-websocket-key": key = value
                default: break
                }
            }
            guard let upgrade, !upgrade.isEmpty else { return nil }
            return (upgrade, key)
        }
    }

    static func run(port: Int) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { $0.pipeline.addHandler(Handler()) }
            .bind(host: "127.0.0.1", port: port).wait()
        try server.closeFuture.wait()
    }
}
