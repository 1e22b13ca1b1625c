import NIOCore

/// HTTP/1.1 chunked framing (RFC 9112 §7.1) for bodies whose length is not known up front:
/// streamed gzip, and proxied responses without a Content-Length.
enum ChunkedEncoding {
    /// `piece` as one chunk: hex size, CRLF, the bytes, CRLF.
    static func chunk(_ piece: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var framed = allocator.buffer(capacity: piece.readableBytes + 16)
        framed.writeString(String(piece.readableBytes, radix: 16))
        framed.writeStaticString("\r\n")
        var p = piece
        framed.writeBuffer(&p)
        framed.writeStaticString("\r\n")
        return framed
    }

    /// The last chunk (no trailers).
    static func last(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 5)
        buffer.writeStaticString("0\r\n\r\n")
        return buffer
    }
}
