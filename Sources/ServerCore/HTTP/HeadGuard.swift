import NIOCore

#if canImport(Glibc)
import Glibc
#endif

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
            Self.unwrapInboundIn(data).withUnsafeReadableBytes { measure($0) }
        }
        context.fireChannelRead(data)
    }

    /// Adds the request line's bytes in `bytes` (up to its LF, CRs not counted); line ends are
    /// found with memchr, not byte by byte.
    private func measure(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            let end = memchr(base + start, 0x0A, bytes.count - start).map { base.distance(to: UnsafeRawPointer($0)) } ?? bytes.count
            requestLineBytes += (end - start) - Self.count(0x0D, in: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            guard end < bytes.count else { return }
            if requestLineBytes > 0 {  // (empty lines before a request are skipped)
                requestLineEnded = true
                return
            }
            start = end + 1
        }
    }

    private static func count(_ byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var n = 0
        var i = 0
        while i < bytes.count, let hit = memchr(base + i, Int32(byte), bytes.count - i) {
            n += 1
            i = base.distance(to: UnsafeRawPointer(hit)) + 1
        }
        return n
    }

    /// Whether a head overflow is the request line's fault (414) rather than the fields' (431).
    var requestLineTooLong: Bool { !requestLineEnded || requestLineBytes > HTTPServer.maxLineBytes }

    /// Called when a request has been fully read; the next bytes start a new request line.
    func requestEnded() {
        requestLineEnded = false
        requestLineBytes = 0
    }
}
