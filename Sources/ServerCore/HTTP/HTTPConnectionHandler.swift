import NIOCore
import NIOHTTP1
import NIOPosix

/// One client connection: turns decoded request parts into a dispatch and writes the answer.
/// Keep-alive and pipelining come from NIO's codec and `HTTPServerPipelineHandler` (responses go
/// out in request order); this handler adds the default headers, framing and `Connection`, and
/// maps codec errors to 400/414/431. An error here closes this connection only.
final class HTTPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: ServerState
    private let listenerID: Int
    private let headGuard: HeadGuard
    private var client: IPAddress?
    private var clientText = "-"
    private var head: HTTPRequestHead?
    private var responding = false

    init(state: ServerState, listenerID: Int, headGuard: HeadGuard) {
        self.state = state
        self.listenerID = listenerID
        self.headGuard = headGuard
    }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.channel.remoteAddress, let ip = remote.ipAddress, let addr = IPAddress(ip) {
            client = addr
            clientText = addr.description
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break  // bodies are not used by file_serve or redirect; the decoder keeps framing.
        case .end:
            headGuard.requestEnded()
            guard let h = head else { return }
            head = nil
            handle(h, context: context)
        }
    }

    private func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        responding = true
        let snapshot = state.current
        let result = state.dispatcher.dispatch(
            head: head, config: snapshot.config, listener: listenerID, client: client, eventLoop: context.eventLoop)
        switch result {
        case .now(let response):
            send(response, for: head, snapshot: snapshot, context: context)
        case .later(let future):
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            future.whenComplete { result in
                let (handler, context) = bound.value
                let response = (try? result.get()) ?? .status(.internalServerError)
                handler.send(response, for: head, snapshot: snapshot, context: context)
            }
        }
    }

    private func send(_ response: Response, for head: HTTPRequestHead?, snapshot: ServingSnapshot, context: ChannelHandlerContext) {
        guard context.channel.isActive else {
            if case .file(let fd, _, _) = response.body { _ = close(fd) }
            return
        }
        let keepAlive = (head?.isKeepAlive ?? false) && !Self.closesConnection(response.status.code)
        var headers = HTTPHeaders()
        headers.reserveCapacity(response.headers.count + 6)
        headers.add(name: "Date", value: HTTPDate.now())
        headers.add(name: "Server", value: "eXpServer")
        headers.add(name: "Access-Control-Allow-Origin", value: "*")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        let code = response.status.code
        let bodyLength = response.length ?? response.bodyLength
        if code != 304 && code != 204 && code >= 200 {
            headers.add(name: "Content-Length", value: String(bodyLength))
        }
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if head?.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        var fileHandle: NIOFileHandle? = nil
        switch response.body {
        case .empty:
            break
        case .buffer(let buffer):
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .file(let fd, let offset, let count):
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
            fileHandle = handle
            let region = FileRegion(fileHandle: handle, readerIndex: offset, endIndex: offset + count)
            context.write(Self.wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
        }
        let sentBytes = head?.method == .HEAD ? 0 : bodyLength
        if let log = snapshot.accessLog {
            let line = AccessLog.combinedLine(
                client: clientText, time: Int(time(nil)),
                requestLine: head.map { "\($0.method.rawValue) \($0.uri) HTTP/\($0.version.major).\($0.version.minor)" } ?? "-",
                status: Int(code), bytes: sentBytes,
                referer: head?.headers.first(name: "referer"), userAgent: head?.headers.first(name: "user-agent"))
            log.append(line)
        }
        responding = false
        if fileHandle == nil && keepAlive {
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let channel = context.channel
        let handle = fileHandle
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            try? handle?.close()
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    /// Statuses after which the connection's state is suspect, so it is not reused.
    static func closesConnection(_ code: UInt) -> Bool {
        code == 400 || code == 408 || code == 413 || code == 414 || code == 431 || code >= 500
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError, !responding else {
            context.close(promise: nil)
            return
        }
        let status: HTTPResponseStatus
        if case .headerOverflow = parserError {
            status = headGuard.requestLineTooLong ? .uriTooLong : .requestHeaderFieldsTooLarge
        } else {
            status = .badRequest
        }
        send(.status(status), for: nil, snapshot: state.current, context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // eXpServer's session timer: an idle connection is closed without a response.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

#if canImport(Glibc)
import Glibc
#endif
