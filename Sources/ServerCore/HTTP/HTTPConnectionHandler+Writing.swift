import Foundation
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

// MARK: writing

/// Sending an answer: the head and its body (in one write when small, a file in regions, a
/// streamed body piece by piece), the access log line, and what the connection does after it.
extension HTTPConnectionHandler {
    /// Sends `response` to the request `head` (nil: bytes that never made a request) from `client`.
    func send(
        _ response: Response, for head: HTTPRequestHead?, client: IPAddress?, snapshot: ServingSnapshot, context: ChannelHandlerContext
    ) {
        guard context.channel.isActive, !closing else {
            response.discard()
            return
        }
        // (The access list's own refusals are not fed back to auto-ban: that would only duplicate a deny.)
        if let client, !response.refusedByACL { state.access.record(client: client, status: response.status.code) }
        // (The access log's bytes are the body's, nginx's `$body_bytes_sent`; the statistics count
        // every byte that goes to the client, as HAProxy's `bytes_out`. A file's and a stream's are
        // counted and logged once they have gone, as far as they got.)
        let bodyBytes = head?.method.isHEAD == true ? 0 : response.length ?? response.bodyLength
        if response.closeConnection {
            record(status: response.status.code, bytes: 0, generated: true, route: response.routeStats, client: client)
            response.discard()
            closing = true
            context.close(promise: nil)
            return
        }
        // A streamed body is chunked to HTTP/1.1 clients; to HTTP/1.0 ones its end is the close.
        let chunked = response.isStream && head?.version.minor == 1
        served += 1
        let keepAlive = !quiescing && (head?.isKeepAlive ?? false) && !Self.closesConnection(response.status.code)
            && (!response.isStream || chunked) && !response.closeAfter && (maxRequests.map { served < $0 } ?? true)
        let headBytes = ResponseEncoder.encodeHead(
            response, keepAlive: keepAlive, announceKeepAlive: keepAlive && head?.version.minor == 0,
            allocator: context.channel.allocator, chunked: chunked)
        let counted = response.bodySentLater ? 0 : bodyBytes
        record(status: response.status.code, bytes: headBytes.readableBytes + counted, generated: true, route: response.routeStats, client: client)
        // The access log line: now, or for a file or a stream once it has gone.
        let log = snapshot.accessLog
        let clientText = log == nil ? "" : client == peer ? peerText : client?.description ?? peerText
        switch response.body {
        case .stream(let body):
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(headBytes)), promise: nil)
            stream(body, chunked: chunked, keepAlive: keepAlive, route: response.routeStats, context: context, logLine: log.map { log in
                { bytes in Self.appendAccessLine(log, response, head: head, client: clientText, bytes: bytes) }
            })
            return
        case .file(let fd, let offset, let count):
            context.write(wrapOutboundOut(.byteBuffer(headBytes)), promise: nil)
            sendFile(fd, offset: offset, count: count, keepAlive: keepAlive, route: response.routeStats, context: context) { bytes in
                if let log { Self.appendAccessLine(log, response, head: head, client: clientText, bytes: bytes) }
            }
            return
        case .empty, .buffer:
            break
        }
        if let log { Self.appendAccessLine(log, response, head: head, client: clientText, bytes: bodyBytes) }
        // The last write carries the completion only when something must happen after it.
        let promise = keepAlive ? nil : context.eventLoop.makePromise(of: Void.self)
        if case .buffer(var body) = response.body {
            if body.readableBytes <= 2048 {
                // Small bodies ride in the head's buffer: one iovec, one copy of a few bytes.
                var combined = headBytes
                combined.writeBuffer(&body)
                context.write(wrapOutboundOut(.byteBuffer(combined)), promise: promise)
            } else {
                context.write(wrapOutboundOut(.byteBuffer(headBytes)), promise: nil)
                context.write(wrapOutboundOut(.byteBuffer(body)), promise: promise)
            }
        } else {
            context.write(wrapOutboundOut(.byteBuffer(headBytes)), promise: promise)
        }
        LoopFlusher.flush(context, with: flusher)
        guard let promise else {
            timeouts.event(.responseComplete)
            return
        }
        closing = true
        timeouts.event(.closing)
        writesInFlight += 1
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in
            let (handler, context) = bound.value
            handler.writesInFlight -= 1
            handler.closeAfterAnswer(context: context)
        }
    }

    /// One combined-format line for `response` to `head`, from `client`, with `bytes` of body.
    private static func appendAccessLine(_ log: AccessLog, _ response: Response, head: HTTPRequestHead?, client: String, bytes: Int) {
        log.append(AccessLog.combinedLine(
            client: client, time: Int(time(nil)),
            requestLine: head.map { "\($0.method.rawValue) \($0.uri) HTTP/\($0.version.major).\($0.version.minor)" } ?? "-",
            status: Int(response.status.code), bytes: bytes,
            referer: head?.headers.first(name: "referer"), userAgent: head?.headers.first(name: "user-agent")))
    }

    /// Sends a file body (its head is written): in regions, a few queued at a time
    /// (`FileBodyWriter`). Later pipelined requests wait until it is sent, so a connection holds
    /// one open file and one file's regions at a time, however many requests it pipelines.
    /// Once it ends, `ended` gets (and the statistics count) the bytes that went.
    private func sendFile(_ fd: CInt, offset: Int, count: Int, keepAlive: Bool, route: TrafficStats?, context: ChannelHandlerContext,
                          ended: @escaping (Int) -> Void) {
        waiting = true
        writesInFlight += 1
        if !keepAlive {
            closing = true
            timeouts.event(.closing)
        }
        let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
        let done = context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let writer = FileBodyWriter(
            context: context, handle: handle, from: offset, count: count, done: done,
            progress: { bound.value.0.timeouts.writeProgress() },
            flush: {
                let (handler, context) = bound.value
                LoopFlusher.flush(context, with: handler.flusher)
            }
        )
        writer.start()
        LoopFlusher.flush(context, with: flusher)
        let boundWriter = NIOLoopBound(writer, eventLoop: context.eventLoop)
        done.futureResult.whenComplete { result in
            let (handler, context) = bound.value
            handler.writesInFlight -= 1
            let sent = boundWriter.value.sentBytes
            handler.recordBytesSent(sent, route: route)
            ended(sent)
            // Closed before the file: regions still queued fail with the channel, not on a closed descriptor.
            if case .failure = result { context.close(promise: nil) }
            try? handle.close()
            guard case .success = result else { return }  // a body cut short cannot be repaired
            handler.bodySent(keepAlive: keepAlive, context: context)
        }
    }

    /// A body that kept later requests waiting (a file, a stream) has gone out whole: the
    /// connection closes, or goes on to the next request.
    private func bodySent(keepAlive: Bool, context: ChannelHandlerContext) {
        if !keepAlive {
            closeAfterAnswer(context: context)
            return
        }
        timeouts.event(.responseComplete)
        waiting = false
        drainQueue(context: context)
    }

    /// Writes and flushes a streamed body's piece, the send deadline running until it has gone
    /// (`ConnectionTimeouts.streamWrite`): a client that stops reading is dropped after `send_ms`.
    private static func timedWrite(_ piece: ByteBuffer, handler: HTTPConnectionHandler, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        let done = context.writeAndFlush(wrapOutboundOut(.byteBuffer(piece)))
        handler.timeouts.streamWrite(pending: true)
        let bound = NIOLoopBound(handler, eventLoop: context.eventLoop)
        done.whenComplete { _ in bound.value.timeouts.streamWrite(pending: false) }
        return done
    }

    /// Sends a streamed body (its head written already); later pipelined requests wait until it
    /// is complete. Once it ends, `logLine` and the statistics get the bytes written (chunk
    /// framing included, as nginx's `$body_bytes_sent` and a proxied chunked body's count).
    private func stream(_ body: StreamingBody, chunked: Bool, keepAlive: Bool, route: TrafficStats?, context: ChannelHandlerContext,
                        logLine: ((Int) -> Void)?) {
        waiting = true
        writesInFlight += 1
        if !keepAlive { closing = true }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let written = NIOLoopBoundBox(0, eventLoop: context.eventLoop)
        let allocator = context.channel.allocator
        body.run(on: context.eventLoop) { piece in
            let context = bound.value.1
            guard context.channel.isActive else { return context.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
            let out = chunked ? ChunkedEncoding.chunk(piece, allocator: allocator) : piece
            written.value += out.readableBytes
            return Self.timedWrite(out, handler: bound.value.0, context: context)
        }.flatMap { () -> EventLoopFuture<Void> in
            let (handler, context) = bound.value
            guard chunked else { return context.eventLoop.makeSucceededVoidFuture() }
            let last = ChunkedEncoding.last(allocator: allocator)
            written.value += last.readableBytes
            return Self.timedWrite(last, handler: handler, context: context)
        }.whenComplete { result in
            let (handler, context) = bound.value
            handler.writesInFlight -= 1
            logLine?(written.value)
            handler.recordBytesSent(written.value, route: route)
            if case .failure = result {
                context.close(promise: nil)  // a body cut short cannot be repaired
                return
            }
            handler.bodySent(keepAlive: keepAlive, context: context)
        }
    }
}
