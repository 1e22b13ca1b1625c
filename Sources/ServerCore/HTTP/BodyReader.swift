import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads one HTTP/1.1 message body by its framing (RFC 9112 §6–7) from successive reads: a
/// length, `chunked` (extensions ignored, trailers read and dropped), or everything until the
/// connection closes. Body bytes come out as slices of the read buffers, never copied. Pure
/// value type, pull-style; shared by the client's requests (`RequestDecoder`) and the upstream's
/// responses (`UpstreamResponseParser`).
struct BodyReader {
    enum Framing: Equatable {
        case length(Int)
        case chunked
        case close
    }

    enum Event {
        case body(ByteBuffer)
        case end
    }

    enum Failure: Error, Equatable {
        case badChunk
        case trailersTooLarge
        case truncated
    }

    /// The longest chunk-size line (with its extensions).
    static let maxLine = 8 * 1024

    private enum State {
        case length(Int)
        case chunkSize
        case chunkData(Int)
        case chunkDataEnd
        case trailer
        case close
        case done
    }

    private var state: State
    /// Bytes of an incomplete control line (chunk size, trailer), kept across reads.
    private var pending: ByteBuffer?
    private var trailerBytes = 0
    private let maxTrailerBytes: Int

    init(_ framing: Framing, maxTrailerBytes: Int) {
        switch framing {
        case .length(let n): state = .length(n)
        case .chunked: state = .chunkSize
        case .close: state = .close
        }
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// The next event from `buffer`, or nil when more bytes are needed (or the body is complete:
    /// the rest of `buffer` is not this body's).
    mutating func next(_ buffer: inout ByteBuffer) throws(Failure) -> Event? {
        while true {
            switch state {
            case .length(let remaining):
                if remaining == 0 {
                    state = .done
                    return .end
                }
                guard buffer.readableBytes > 0 else { return nil }
                let n = min(remaining, buffer.readableBytes)
                state = .length(remaining - n)
                return .body(buffer.readSlice(length: n)!)
            case .close:
                guard buffer.readableBytes > 0 else { return nil }
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .chunkSize:
                guard let line = try takeLine(&buffer) else { return nil }
                let size = try Self.chunkSize(line)
                state = size == 0 ? .trailer : .chunkData(size)
            case .chunkData(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let n = min(remaining, buffer.readableBytes)
                state = n == remaining ? .chunkDataEnd : .chunkData(remaining - n)
                return .body(buffer.readSlice(length: n)!)
            case .chunkDataEnd:
                guard let line = try takeLine(&buffer) else { return nil }
                guard line.readableBytes == 0 else { throw .badChunk }
                state = .chunkSize
            case .trailer:
                guard let line = try takeLine(&buffer) else { return nil }
                if line.readableBytes == 0 {
                    state = .done
                    return .end
                }
                trailerBytes += line.readableBytes
                if trailerBytes > maxTrailerBytes { throw .trailersTooLarge }
                guard Self.isTrailerLine(line) else { throw .badChunk }
            case .done:
                return nil
            }
        }
    }

    /// The peer closed its side: the end of a close-delimited body; anywhere else before the
    /// end, the body was cut short.
    mutating func endOfInput() throws(Failure) -> Event? {
        switch state {
        case .close:
            state = .done
            return .end
        case .done:
            return nil
        default:
            throw .truncated
        }
    }

    /// One line (without its LF or CRLF), joined with what earlier reads left; nil if incomplete.
    private mutating func takeLine(_ buffer: inout ByteBuffer) throws(Failure) -> ByteBuffer? {
        let newline = buffer.withUnsafeReadableBytes { HTTPSyntax.lineEnd($0) }
        guard let newline else {
            var rest = buffer.readSlice(length: buffer.readableBytes)!
            if pending == nil { pending = rest } else { pending!.writeBuffer(&rest) }
            if pending!.readableBytes > Self.maxLine { throw .badChunk }
            return nil
        }
        var line = buffer.readSlice(length: newline)!
        buffer.moveReaderIndex(forwardBy: 1)
        if var joined = pending {
            joined.writeBuffer(&line)
            line = joined
            pending = nil
        }
        if line.readableBytes > Self.maxLine { throw .badChunk }
        if line.readableBytes > 0, line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == 0x0D {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        return line
    }

    /// A chunk-size line (RFC 9112 §7.1): hex digits, then optionally whitespace and extensions
    /// (`;...`), which are ignored but must not hold control bytes (a bare CR, a NUL: lines
    /// another parser on the way could end or cut elsewhere). Anything else after the digits
    /// (`3 zz`) is malformed.
    static func chunkSize(_ line: ByteBuffer) throws(Failure) -> Int {
        var size = 0
        var digits = 0
        var bytes = line.readableBytesView[...]
        while let byte = bytes.first {
            let v: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = Int(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = Int(byte - UInt8(ascii: "A") + 10)
            default:
                guard digits > 0 else { throw .badChunk }
                // Whitespace (BWS), then the end or `;` and the extensions.
                bytes = bytes.drop { $0 == 0x20 || $0 == 0x09 }
                guard let first = bytes.first else { return size }
                guard first == UInt8(ascii: ";"), !bytes.contains(where: Self.isControl) else { throw .badChunk }
                return size
            }
            digits += 1
            guard digits <= 15 else { throw .badChunk }
            size = size << 4 | v
            bytes = bytes.dropFirst()
        }
        guard digits > 0 else { throw .badChunk }
        return size
    }

    /// A trailer line: `token ":" value`, the value without control bytes but HTAB (RFC 9110
    /// §5.5). Trailers are dropped, but one that is not a field line means the framing is off.
    static func isTrailerLine(_ line: ByteBuffer) -> Bool {
        let bytes = line.readableBytesView
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > bytes.startIndex,
            bytes[..<colon].allSatisfy(HeaderName.isTokenByte)
        else { return false }
        return !bytes[colon...].contains(where: isControl)
    }

    @inline(__always)
    private static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != 0x09) || byte == 0x7F
    }
}
