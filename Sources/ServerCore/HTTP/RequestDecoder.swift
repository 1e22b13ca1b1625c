import NIOCore
import NIOHTTP1

/// One part of a request as the decoder gives it: the head with what it says about the body,
/// a piece of the body (a slice of a read), the end.
enum RequestPart {
    case head(RequestHeadParser.Parsed)
    case body(ByteBuffer)
    case end
}

/// The client side's HTTP/1 decoder: bytes in, request parts out (`.head`, `.body` slices of the
/// reads, `.end`), heads parsed in place by `RequestHeadParser` and bodies read by `BodyReader`.
/// The connection's handler calls it directly with each read, so parts reach it without a trip
/// through the pipeline. (In place of NIO's decoder: its head of strings built from parser
/// callbacks, the byte buffer it accumulates and a second handler to tell 414 from 431 were the
/// largest single cost of a proxied request, about a seventh of its instructions.)
///
/// A head that arrives in pieces is kept (copied, so a read buffer is not held) and checked as it
/// grows: it is refused as soon as it is over a limit or its request line is malformed. Empty
/// lines before a request line are skipped. A malformed request is reported once, as a
/// `RequestHeadParser.Failure`; everything after it is dropped.
///
/// A request that offers to switch protocols (a proxied WebSocket handshake) may be the last HTTP
/// on the connection: when the caller says so at its end (`holdAfterEnd`), what follows it is
/// held undecoded until the answer tells which it is (`releaseHeld`): the new protocol's bytes
/// (a 101) or the next requests (any other answer, decoded then).
struct RequestDecoder {
    private let limits: RequestHeadParser.Limits
    /// The start of a head that has not ended yet.
    private var pending: ByteBuffer?
    /// Where to resume looking for the head's end in `pending`.
    private var scanFrom = 0
    /// The current request's body, between its head and its end.
    private var body: BodyReader?
    private(set) var failed = false
    /// Bytes after a request whose end the caller asked to hold at (nil: not holding).
    private var held: ByteBuffer?

    init(limits: RequestHeadParser.Limits) {
        self.limits = limits
    }

    /// Decodes `buffer`, giving each part to `deliver` in order; throws (once) at a malformed
    /// request, after the parts before it.
    /// `holdAfterEnd` is asked after each request's end: true holds everything after it.
    @inline(__always)
    mutating func decode(
        _ buffer: inout ByteBuffer, deliver: (consuming RequestPart) -> Void, holdAfterEnd: () -> Bool = { false }
    ) throws(RequestHeadParser.Failure) {
        guard !failed else { return }
        if held != nil {
            held!.writeBuffer(&buffer)
            return
        }
        do {
            try decodeParts(&buffer, deliver: deliver, holdAfterEnd: holdAfterEnd)
        } catch {
            failed = true
            pending = nil
            body = nil
            throw error
        }
    }

    /// Stops holding: what was held after the last request's end (nil: nothing was).
    mutating func releaseHeld() -> ByteBuffer? {
        defer { held = nil }
        return held
    }

    @inline(__always)
    private mutating func decodeParts(
        _ buffer: inout ByteBuffer, deliver: (consuming RequestPart) -> Void, holdAfterEnd: () -> Bool
    ) throws(RequestHeadParser.Failure) {
        while true {
            if body != nil {
                let event: BodyReader.Event?
                do {
                    event = try body!.next(&buffer)
                } catch {
                    throw .badRequest
                }
                switch event {
                case nil:
                    return
                case .body(let bytes):
                    deliver(.body(bytes))
                case .end:
                    body = nil
                    deliver(.end)
                    if holdAfterEnd() { return hold(&buffer) }
                }
                continue
            }
            guard let parsed = try takeHead(&buffer) else { return }
            let framing = parsed.framing
            if let framing { body = BodyReader(framing, maxTrailerBytes: limits.maxHeaderBytes) }
            deliver(.head(consume parsed))  // (moved, not copied: a head holds several references)
            if framing == nil {
                deliver(.end)
                if holdAfterEnd() { return hold(&buffer) }
            }
        }
    }

    /// Keeps the rest of `buffer` (a copy, so a read buffer is not held) as `held`.
    private mutating func hold(_ buffer: inout ByteBuffer) {
        var copy = ByteBufferAllocator().buffer(capacity: max(buffer.readableBytes, 64))
        copy.writeBuffer(&buffer)
        held = copy
    }

    /// The next head if it is complete (consumed from `buffer`), else nil (its bytes kept).
    private mutating func takeHead(_ buffer: inout ByteBuffer) throws(RequestHeadParser.Failure) -> RequestHeadParser.Parsed? {
        guard var kept = pending else {
            // Common case: the whole head is in this read; parse it in place.
            while let b = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), b == 0x0D || b == 0x0A {
                buffer.moveReaderIndex(forwardBy: 1)
            }
            guard buffer.readableBytes > 0 else { return nil }
            guard let (parsed, end) = try Self.scan(buffer, from: 0, limits: limits) else {
                var copy = ByteBufferAllocator().buffer(capacity: max(buffer.readableBytes * 2, 256))
                copy.writeBuffer(&buffer)
                pending = copy
                scanFrom = 0
                return nil
            }
            buffer.moveReaderIndex(forwardBy: end)
            return parsed
        }
        pending = nil  // (so `kept` is the only reference while it grows)
        kept.writeBuffer(&buffer)
        guard let (parsed, end) = try Self.scan(kept, from: scanFrom, limits: limits) else {
            scanFrom = max(0, kept.readableBytes - 3)
            pending = kept
            return nil
        }
        // What followed the head (a body, the next request) is the caller's to go on with.
        kept.moveReaderIndex(forwardBy: end)
        buffer = kept
        return parsed
    }

    /// The head at the start of `buffer` and its length if it has ended (looking for its end
    /// from `from`); nil if it has not ended and is not refused yet.
    private static func scan(
        _ buffer: ByteBuffer, from: Int, limits: RequestHeadParser.Limits
    ) throws(RequestHeadParser.Failure) -> (RequestHeadParser.Parsed, Int)? {
        try buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(RequestHeadParser.Failure) -> (RequestHeadParser.Parsed, Int)? in
                guard let end = HTTPSyntax.headEnd(bytes, from: from) else {
                    if let failure = RequestHeadParser.checkIncomplete(bytes, limits: limits) { throw failure }
                    return nil
                }
                let head = UnsafeRawBufferPointer(rebasing: bytes[..<end])
                let raw = buffer.getSlice(at: buffer.readerIndex, length: end)!
                return (try RequestHeadParser.parse(head, limits: limits, raw: raw), end)
            }
        }.get()
    }
}
