import NIOCore
import NIOHTTP1

/// Serialises a response head straight into bytes: status line, the default headers every
/// generated response carries (`Date`, `Server: eXpServer`, `Access-Control-Allow-Origin: *`),
/// the response's own headers (or its pre-encoded block), framing and `Connection`, then the
/// blank line — one buffer, so the whole head goes out in one write.
enum ResponseEncoder {
    static let defaultHeaders: StaticString = "Server: eXpServer\r\nAccess-Control-Allow-Origin: *\r\n"

    static func encodeHead(
        _ response: Response, keepAlive: Bool, announceKeepAlive: Bool, allocator: ByteBufferAllocator, chunked: Bool = false
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256 + (response.encodedHeaders?.readableBytes ?? 0))
        let code = response.status.code
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeString(String(code))
        buffer.writeStaticString(" ")
        buffer.writeString(response.status.reasonPhrase)
        buffer.writeStaticString("\r\nDate: ")
        buffer.writeString(HTTPDate.now())
        buffer.writeStaticString("\r\n")
        buffer.writeStaticString(defaultHeaders)
        if var block = response.encodedHeaders {
            buffer.writeBuffer(&block)
        }
        for (name, value) in response.headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if response.isStream {
            if chunked { buffer.writeStaticString("Transfer-Encoding: chunked\r\n") }
        } else if code != 304 && code != 204 && code >= 200 && !response.omitLength {
            buffer.writeStaticString("Content-Length: ")
            buffer.writeString(String(response.length ?? response.bodyLength))
            buffer.writeStaticString("\r\n")
        }
        if !keepAlive {
            buffer.writeStaticString("Connection: close\r\n")
        } else if announceKeepAlive {
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// Encodes `Name: value\r\n` lines once, for headers that are reused (a cached file's).
    static func encodeBlock(_ headers: [(String, String)]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 160)
        for (name, value) in headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        return buffer
    }
}
