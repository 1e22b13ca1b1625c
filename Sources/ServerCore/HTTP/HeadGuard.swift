import NIOCore

/// Sits in front of the HTTP decoder and measures the current request's first line. When the
/// decoder reports a head too large, this tells 414 (the request line itself is over
/// `HTTPServer.maxLineBytes`, or has not even ended yet) from 431 (the header fields were too
/// big). It must count the line's bytes, not just look for its end: a whole over-long request
/// usually arrives in one read, LF included. Looks at bytes only until the first LF of a
/// request, so it costs nothing on the data path.
final class HeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private(set) var requestLineEnded = false
    /// Bytes of the current request line seen so far, CR and LF excluded.
    private(set) var requestLineBytes = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !requestLineEnded {
            let buffer = Self.unwrapInboundIn(data)
            for byte in buffer.readableBytesView {
                if byte == UInt8(ascii: "\n") {
                    if requestLineBytes > 0 {  // (empty lines before a request are skipped)
                        requestLineEnded = true
                        break
                    }
                } else if byte != UInt8(ascii: "\r") {
                    requestLineBytes += 1
                }
            }
        }
        context.fireChannelRead(data)
    }

    /// Whether a head overflow is the request line's fault (414) rather than the fields' (431).
    var requestLineTooLong: Bool { !requestLineEnded || requestLineBytes > HTTPServer.maxLineBytes }

    /// Called when a request has been fully read; the next bytes start a new request line.
    func requestEnded() {
        requestLineEnded = false
        requestLineBytes = 0
    }
}
