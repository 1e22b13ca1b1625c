import NIOCore

/// Flushes deferred to the end of the event loop's current batch of I/O events: the writes that
/// handling a batch of ready sockets produces go out together after it, instead of one system
/// call in the middle of each event.
///
/// Why: every flush to a local peer (a client, a backend) wakes that peer up, and the scheduler
/// then often preempts the writer on the spot, in the middle of its batch; the rest of the batch
/// waits and resumes on cold caches. With the flushes at the end, the wakeups come when the loop
/// is about to wait anyway. NIO runs tasks submitted from the loop right after the I/O events it
/// is handling, before it waits again, so nothing is delayed past the batch.
///
/// Confined to its event loop (one per loop, `ServerState.flushers`; every call is made on it), so
/// it is never touched concurrently.
final class LoopFlusher: @unchecked Sendable {
    let eventLoop: EventLoop
    private var pending: [ChannelHandlerContext] = []
    private var scheduled = false
    /// The task, made once (on the loop, at the first flush): submitting it allocates nothing.
    /// It holds the flusher strongly (a weak or unowned reference would cost on every round or
    /// risk a dangling one); `stop` breaks the cycle when the server shuts down.
    private var task: (@Sendable () -> Void)?

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        pending.reserveCapacity(64)
    }

    /// Flushes `context` now when there is no flusher, else at the end of the loop's batch.
    static func flush(_ context: ChannelHandlerContext, with flusher: LoopFlusher?) {
        if let flusher { flusher.flush(context) } else { context.flush() }
    }

    /// Flushes `context` at the end of the current batch (on the loop).
    func flush(_ context: ChannelHandlerContext) {
        pending.append(context)
        guard !scheduled else { return }
        scheduled = true
        if task == nil {
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            task = { bound.value.run() }
        }
        eventLoop.execute(task!)
    }

    /// Drops the task (and with it the task's reference to the flusher). A round already queued
    /// still runs; a later flush makes the task again.
    func stop() {
        task = nil
    }

    private func run() {
        // A flush can lead to more (a write's completion answers the next pipelined request):
        // those join this round.
        var i = 0
        while i < pending.count {
            let context = pending[i]
            context.flush()
            i += 1
        }
        // (Not `removeAll(keepingCapacity:)`: its generic path costs ~300 instructions a round.)
        while pending.popLast() != nil {}
        scheduled = false
    }
}
