import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Sends a byte range of an open file in regions of `regionBytes`, at most `regionsQueued` of them
/// written to the channel at a time: the next goes when one has been sent. So what a response
/// holds in NIO's write queue stays small however large the file (a 100 GiB file queued whole
/// would be 100,000 regions and their promises), and each region sent is progress for the send
/// deadline. Two in flight keep the socket busy while the next one is queued.
///
/// A file cut shorter than the range while it is sent (replaced in place, truncated) fails the
/// response at the next region instead of leaving the connection waiting on bytes that will not
/// come (sendfile past the end sends nothing).
///
/// Confined to the channel's event loop.
final class FileBodyWriter {
    static let regionBytes = 1 << 20
    static let regionsQueued = 2

    struct Truncated: Error {}

    private let context: ChannelHandlerContext
    private let handle: NIOFileHandle
    private var next: Int
    private let end: Int
    private var queued = 0
    private var finished = false
    private let done: EventLoopPromise<Void>
    /// Called for each region sent.
    private let progress: () -> Void
    /// Flushes the channel (the next regions, queued outside any read).
    private let flush: () -> Void

    /// `done` completes when the last byte is sent, or fails (the channel closed, the file was
    /// cut short). The handle stays the caller's to close.
    init(context: ChannelHandlerContext, handle: NIOFileHandle, from offset: Int, count: Int, done: EventLoopPromise<Void>,
         progress: @escaping () -> Void, flush: @escaping () -> Void) {
        self.context = context
        self.handle = handle
        next = offset
        end = offset + count
        self.done = done
        self.progress = progress
        self.flush = flush
    }

    /// Queues the first regions (the caller flushes). (The file's size was checked when it was opened.)
    func start() {
        guard end > next else {
            finished = true
            done.succeed(())
            return
        }
        fill(checkSize: false)
    }

    private func fill(checkSize: Bool) {
        while queued < Self.regionsQueued && next < end && !finished {
            let upTo = min(next + Self.regionBytes, end)
            if checkSize && fileSize() < upTo {
                finished = true
                done.fail(Truncated())
                return
            }
            let last = upTo == end
            let sent = context.eventLoop.makePromise(of: Void.self)
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            sent.futureResult.whenComplete { bound.value.regionSent($0, last: last) }
            queued += 1
            let region = FileRegion(fileHandle: handle, readerIndex: next, endIndex: upTo)
            next = upTo
            context.write(NIOAny(IOData.fileRegion(region)), promise: sent)
        }
    }

    private func regionSent(_ result: Result<Void, Error>, last: Bool) {
        queued -= 1
        guard !finished else { return }
        switch result {
        case .failure(let error):
            finished = true
            done.fail(error)
        case .success:
            progress()
            if last {
                finished = true
                done.succeed(())
            } else if next < end {
                fill(checkSize: true)
                flush()
            }
        }
    }

    /// The open file's current size (0 if it cannot be read: treated as cut short).
    private func fileSize() -> Int {
        (try? handle.withUnsafeFileDescriptor { fd -> Int in
            var st = stat()
            return fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        }) ?? 0
    }
}
