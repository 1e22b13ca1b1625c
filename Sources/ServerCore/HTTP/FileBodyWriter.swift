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
/// response (and the caller closes the connection) instead of leaving it waiting on bytes that
/// will not come: at the next region, and within `watchInterval` for a region already queued.
/// Sendfile past the end of a file sends nothing, and NIO retries such a write as fast as the
/// socket is writable, so a queued region past the cut would spin its event loop (~15,000
/// `sendfile` calls a second) until the send deadline; while regions are queued the file's size
/// is therefore looked at every `watchInterval`.
///
/// Confined to the channel's event loop.
final class FileBodyWriter {
    static let regionBytes = 1 << 20
    static let regionsQueued = 2
    static let watchInterval = TimeAmount.milliseconds(250)

    struct Truncated: Error {}

    private let context: ChannelHandlerContext
    private let handle: NIOFileHandle
    private var next: Int
    private let end: Int
    private var queued = 0
    private var finished = false
    /// Bytes of the regions the channel has written (what a response cut short did send, to a
    /// region: NIO does not say how far into one a failed write got).
    private(set) var sentBytes = 0
    /// The next look at the file's size while regions are queued.
    private var watch: Scheduled<Void>?
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
            finish(.success(()))
            return
        }
        fill(checkSize: false)
    }

    private func finish(_ result: Result<Void, Error>) {
        finished = true
        watch?.cancel()
        watch = nil
        done.completeWith(result)
    }

    private func fill(checkSize: Bool) {
        defer { armWatch() }
        while queued < Self.regionsQueued && next < end && !finished {
            let upTo = min(next + Self.regionBytes, end)
            if checkSize && fileSize() < upTo {
                finish(.failure(Truncated()))
                return
            }
            let last = upTo == end
            let sent = context.eventLoop.makePromise(of: Void.self)
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let bytes = upTo - next
            sent.futureResult.whenComplete { bound.value.regionSent($0, bytes: bytes, last: last) }
            queued += 1
            let region = FileRegion(fileHandle: handle, readerIndex: next, endIndex: upTo)
            next = upTo
            context.write(NIOAny(IOData.fileRegion(region)), promise: sent)
        }
    }

    private func armWatch() {
        guard watch == nil, !finished, queued > 0 else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        watch = context.eventLoop.scheduleTask(in: Self.watchInterval) { bound.value.watchFired() }
    }

    /// The queued regions reach `next`: a file now shorter can never complete them.
    private func watchFired() {
        watch = nil
        guard !finished, queued > 0 else { return }
        if fileSize() < next {
            finish(.failure(Truncated()))
            return
        }
        armWatch()
    }

    private func regionSent(_ result: Result<Void, Error>, bytes: Int, last: Bool) {
        queued -= 1
        if case .success = result { sentBytes += bytes }
        guard !finished else { return }
        switch result {
        case .failure(let error):
            finish(.failure(error))
        case .success:
            progress()
            if last {
                finish(.success(()))
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
