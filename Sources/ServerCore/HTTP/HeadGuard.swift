import NIOCore

/// Sits in front of the HTTP decoder and notes whether the current request's first line has
/// ended yet. When the decoder reports a head too large, this tells 414 (the request line alone
/// was too long) from 431 (the header fields were). Looks at bytes only until the first LF of a
/// request, so it costs nothing on the data path.
final class HeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private(set) var requestLineEnded = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !requestLineEnded {
            let buffer = Self.unwrapInboundIn(data)
            if buffer.readableBytesView.contains(UInt8(ascii: "\n")) { requestLineEnded = true }
        }
        context.fireChannelRead(data)
    }

    /// Called when a request has been fully read; the next bytes start a new request line.
    func requestEnded() { requestLineEnded = false }
}
