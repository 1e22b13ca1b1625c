import NIOCore
import NIOHTTP1

/// The last handler of an upstream connection: hands response parts to the proxy session that
/// owns the connection, and holds reads while the client cannot take more (backpressure).
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    var session: ProxySession?
    /// Set while idle in a pool: an unexpected close removes the connection from it.
    var onIdleClose: (() -> Void)?
    private var readHeld = false
    // Strong (weak references put objects on the slow reference-counting path); cleared on removal.
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session else {
            context.close(promise: nil)  // an idle pooled connection must not talk
            return
        }
        session.upstreamRead(Self.unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        if let session {
            self.session = nil
            session.upstreamClosed(error: nil)
        } else {
            onIdleClose?()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let session {
            self.session = nil
            session.upstreamClosed(error: error)
        }
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        session?.upstreamWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let session, !session.clientCanTakeMore {
            readHeld = true
            return
        }
        context.read()
    }

    /// The client drained its buffer: read from the upstream again if we were holding.
    func resume() {
        guard readHeld, let context else { return }
        readHeld = false
        context.read()
    }
}
