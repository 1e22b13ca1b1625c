import CompressNIO
import NIOCore

/// gzip (RFC 1952) at eXpServer's settings: zlib `deflateInit2(level, Z_DEFLATED, 15+16, 8,
/// default strategy)`. Level -1 is zlib's default (6); 0 is stored blocks.
enum Gzip {
    static func configuration(level: Int) -> ZlibConfiguration {
        ZlibConfiguration(windowSize: 15, compressionLevel: Int32(level), memoryLevel: 8, strategy: .default)
    }

    /// Compresses a whole (small) buffer.
    static func compress(_ input: ByteBuffer, level: Int) throws -> ByteBuffer {
        var source = input
        return try source.compress(with: .gzip, configuration: configuration(level: level))
    }
}

/// A gzip stream fed piece by piece (one per response); not thread-safe, used by one task at a time.
final class GzipStream: @unchecked Sendable {
    private let compressor: ZlibCompressor
    private var window: ByteBuffer

    init(level: Int) throws {
        compressor = try ZlibCompressor(algorithm: .gzip, configuration: Gzip.configuration(level: level))
        window = ByteBufferAllocator().buffer(capacity: 64 << 10)
    }

    /// Compresses `input`; returns what zlib produced so far (possibly empty).
    func feed(_ input: ByteBuffer) throws -> ByteBuffer {
        var source = input
        var out = ByteBufferAllocator().buffer(capacity: 0)
        try source.compressStream(with: compressor, window: &window, flush: .no) { chunk in
            var c = chunk
            out.writeBuffer(&c)
        }
        return out
    }

    /// Flushes the rest and the gzip trailer.
    func finish() throws -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 0)
        var empty = ByteBufferAllocator().buffer(capacity: 0)
        try empty.compressStream(with: compressor, window: &window, flush: .finish) { chunk in
            var c = chunk
            out.writeBuffer(&c)
        }
        if window.readableBytes > 0 {
            out.writeBuffer(&window)
        }
        window.clear()
        return out
    }
}
