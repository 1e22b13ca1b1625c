import Foundation
import NIOCore
import NIOHTTP1

/// The client side of a proxied request: starting its `ProxySession`, and what the session calls
/// back to write, flush, answer, end or abort the client's request.
extension HTTPConnectionHandler: ProxyClient {
    /// (So a proxied answer that began before a graceful stop says `Connection: close`, as the
    /// server's own answers do then.)
    var clientClosing: Bool { quiescing }

    func startProxy(_ route: ProxyRoute, parsed: consuming RequestHeadParser.Parsed, client: IPAddress?, context: ChannelHandlerContext) {
        proxyRequestEnded = false
        proxyClient = client
        proxyBytes = 0
        let host = parsed.hostFields == 0 ? ProxyHeaders.hostValue(local: context.channel.localAddress) : nil  // HTTP/1.0
        // Written into the last request's head buffer: no allocation once the upstream write and
        // the last session have released it. X-Forwarded-For gains the address the request came
        // from (behind a trusted proxy, the proxy's: the client it names is already in the field).
        // (An offer queued behind a deferred answer is not relayed: what followed it is decoded.)
        let upgrade = parsed.upgrade && !processingQueued
        let chunked = parsed.raw.withUnsafeReadableBytes {
            ProxyHeaders.encodeRequest(
                $0, peer: peer == nil ? nil : peerText, trustedPeer: peerTrusted, host: host, upgrade: upgrade, into: &requestBuffer)
        }
        upgradePending = upgrade
        served += 1
        let session = ProxySession(
            route: route, request: parsed, upstreamHead: (requestBuffer, chunked), client: client,
            lastOnConnection: maxRequests.map { served >= $0 } ?? false,
            eventLoop: context.eventLoop, pool: pool, flusher: flusher, owner: self, threadPool: state.dispatcher.threadPool)
        proxyRequest = consume parsed
        proxy = session
        session.start()
    }

    var clientWritable: Bool { context != nil && writable }

    func proxyWrite(_ buffer: ByteBuffer) {
        guard let context else { return }
        if tunnelDenied() {  // (dropped; closed after this event: the caller is the session)
            let channel = context.channel
            context.eventLoop.execute { channel.close(promise: nil) }
            return
        }
        proxyBytes += buffer.readableBytes
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
    }

    func proxyFlush() {
        guard let context else { return }
        LoopFlusher.flush(context, with: flusher)
    }

    func proxyRespond(_ response: Response) {
        guard let context, let request = proxyRequest else { return }
        endProxy()
        var response = response
        response.routeStats = requestRoute  // (the proxy's own 502/504 count for its route too)
        send(response, for: request.head, client: proxyClient, snapshot: state.current, context: context)
        resumeAfterProxy(context: context)
    }

    /// nginx's status for a request whose client went away before its answer began.
    static let clientClosedRequest = 499

    /// Counts and logs the proxied request now ending: `status` as the client got it (or 499);
    /// the statistics get every byte that went to the client, the access log the body's (nginx's
    /// `$body_bytes_sent`), as for every other answer.
    func recordProxied(status: Int, headBytes: Int) {
        guard proxyRequest != nil else { return }  // (not bound to a name: that would copy the parsed head)
        let proxyStatus = UInt(status)
        let bodyBytes = max(0, proxyBytes - headBytes)
        // (Auto-ban counts the server's 4xx answers: a client that left is not one.)
        if let client = proxyClient, status != Self.clientClosedRequest { state.access.record(client: client, status: proxyStatus) }
        record(status: proxyStatus, bytes: proxyBytes, generated: false, route: requestRoute, client: proxyClient)
        if let log = currentServing().accessLog, let head = proxyRequest?.head {
            log.append(AccessLog.combinedLine(
                client: proxyClient?.description ?? peerText, time: Int(time(nil)),
                requestLine: "\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)",
                status: status, bytes: bodyBytes, referer: head.headers.first(name: "referer"),
                userAgent: head.headers.first(name: "user-agent")))
        }
    }

    func proxyDone(closeClient: Bool, status: Int, headBytes: Int) {
        guard let context, proxyRequest != nil else { return }
        recordProxied(status: status, headBytes: headBytes)
        let early = !proxyRequestEnded
        endProxy()
        if closeClient || quiescing {
            closeAfterWrites(context: context)
            return
        }
        LoopFlusher.flush(context, with: flusher)
        timeouts.event(early ? .answeredBeforeRequestEnd : .responseComplete)
        resumeAfterProxy(context: context)
    }

    func proxyAbort(status: Int, headBytes: Int) {
        recordProxied(status: status, headBytes: headBytes)
        endProxy()
        _ = requestEnded()
        state.stats.connErrors.add(1, ordering: .relaxed)
        closing = true  // (also without a context)
        if let context { closeAfterWrites(context: context) }  // (the part that came goes first)
    }

    func proxyResumeClientReads() {
        if let context { resumeReadingIfPossible(context: context) }
    }

    /// (The request's head goes too: it holds the buffer it was read into.) The rest of a body
    /// that is still coming is read and dropped, with its body deadline running again (reads
    /// are no longer held for an upstream).
    private func endProxy() {
        proxy = nil
        proxyRequest = nil
        timeouts.bodyHeld(false)
        if !proxyRequestEnded { discardingRequest = true }
    }

    private func resumeAfterProxy(context: ChannelHandlerContext) {
        waiting = false
        if upgradePending { upgradeRefused(context: context) }
        drainQueue(context: context)
    }
}
