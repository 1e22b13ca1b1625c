import NIOCore
import NIOHTTP1
import NIOPosix

/// The request flow, in one place and in order (see README "Request flow"):
/// 0. protocol checks (`RequestValidator`) — 400;
/// 1. pathname (`PathResolver`: decode, normalise, no escaping `..`) — 400/403;
/// 2. server by listener + Host (as eXpServer; an absolute-form target whose authority Host does
///    not name is 400: `RequestValidator.hostAgrees`), then route by longest prefix — 404;
/// 0b. the global access list (`AccessPolicy.decide`) — 403, or close under `deny_action: "close"`
///     (a direct peer only: a trusted proxy's shared connection gets the 403);
/// 3. the route's IP lists (before any 404 of the action) — 403;
/// 4. the action: file_serve | redirect | reverse_proxy (TRACE and CONNECT are not relayed: 405).
public final class RequestDispatcher: Sendable {
    public let files: FileServer
    /// A reverse_proxy route's `Allow` (its 405s): the methods it relays.
    static let proxiedMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"
    let threadPool: NIOThreadPool
    let compression: CompressionFilter

    /// What metrics routes report, and where request types are counted.
    let stats: ServerStats

    public init(files: FileServer, threadPool: NIOThreadPool, stats: ServerStats, gzipCache: GzipCache = GzipCache()) {
        self.stats = stats
        self.files = files
        self.threadPool = threadPool
        compression = CompressionFilter(cache: gzipCache, threadPool: threadPool)
    }

    public enum Result {
        case now(Response)
        case later(EventLoopFuture<Response>)
        /// Proxy the request to one of the route's upstreams (the connection streams it).
        case proxy(ProxyRoute)

        /// Lets go of an answer that will not be sent: an open file in it is closed (a later one's
        /// when it is ready).
        func discard() {
            switch self {
            case .now(let response): response.discard()
            case .later(let future): future.whenSuccess { $0.discard() }
            case .proxy: break
            }
        }
    }

    /// `request` is the parsed head; `head`, NIO's form of it, when the caller has built it (else
    /// it is built here if the answer needs it, file serving, and left for the caller).
    /// `client` is the request's address, `peer` the connection's (they differ behind a trusted proxy).
    /// `globalDecision` is `access.policy.decide(client)` (the connection memoises it). Returns the
    /// answer and the route that gave it (nil when none did), for its limits and counters.
    func dispatch(
        request: RequestHeadParser.Parsed, head: inout HTTPRequestHead?, config: RuntimeConfig, listener: Int,
        client: IPAddress?, peer: IPAddress?, access: AccessControl.Snapshot, globalDecision: AccessPolicy.Decision,
        eventLoop: EventLoop
    ) -> (Result, CompiledRoute?) {
        var route: CompiledRoute?
        let result = decide(
            request: request, head: &head, config: config, listener: listener, client: client, peer: peer, access: access,
            globalDecision: globalDecision, eventLoop: eventLoop, route: &route)
        return (result, route)
    }

    private func decide(
        request: RequestHeadParser.Parsed, head: inout HTTPRequestHead?, config: RuntimeConfig, listener: Int,
        client: IPAddress?, peer: IPAddress?, access: AccessControl.Snapshot, globalDecision: AccessPolicy.Decision,
        eventLoop: EventLoop, route matched: inout CompiledRoute?
    ) -> Result {
        if let error = RequestValidator.validate(
            version: request.version, method: request.method, hosts: request.hostFields)
        {
            return .now(.status(error.status))
        }
        switch globalDecision {
        case .deny(let entry):
            access.hits.increment(entry)
            // A silent close is for direct peers: a trusted proxy's keep-alive connection carries
            // other clients too, and a proxy whose upstream closes unanswered marks the backend down.
            let direct = peer.map { !access.isTrustedProxy($0) } ?? true
            return .now(access.settings.denyAction == .close && direct ? .closeWithoutAnswer : .refused)
        case .allow(let entry):
            access.hits.increment(entry)
        case .noMatch:
            break
        }
        let pathname: String
        switch PathResolver.pathname(fromTarget: request.uri) {
        case .success(let p): pathname = p
        case .failure(.badRequest): return .now(.status(.badRequest))
        case .failure(.forbidden): return .now(.status(.forbidden))
        }
        if request.uri.utf8.first != UInt8(ascii: "/") && !RequestValidator.hostAgrees(target: request.uri, host: request.host) {
            return .now(.status(.badRequest))
        }
        guard let server = config.routing.server(listener: listener, host: { request.host.map { Substring($0) } }) else {
            return .now(.status(.notFound))
        }
        // A server without routes answers eXpServer's dashboard at /api (compat 6.1, the tester's 8004).
        if server.routes.isEmpty && pathname == "/api" { return .now(metrics(config: config, prometheus: false)) }
        guard let route = server.routes.route(for: pathname) else { return .now(.status(.notFound)) }
        matched = route
        stats.countType(route.action)
        var result = act(route, request: request, head: &head, pathname: pathname, client: client, config: config, eventLoop: eventLoop)
        if let stats = route.stats {
            switch result {
            case .now(var r):
                r.routeStats = stats
                result = .now(r)
            case .later(let f):
                result = .later(f.map { r in
                    var r = r
                    r.routeStats = stats
                    return r
                })
            case .proxy: break
            }
        }
        return result
    }

    func metrics(config: RuntimeConfig, prometheus: Bool) -> Response {
        stats.reqMetrics.add(1, ordering: .relaxed)
        let body = prometheus
            ? MetricsRenderer.prometheus(stats: stats, config: config)
            : MetricsRenderer.expserverJSON(stats: stats, config: config, sampler: stats.sampler)
        return Response(
            status: .ok, headers: [("Content-Type", prometheus ? MetricsRenderer.prometheusContentType : "application/json")],
            body: .buffer(ByteBuffer(string: body)))
    }

    /// Step 3 and 4: the route's lists, then its action.
    private func act(
        _ route: CompiledRoute, request: RequestHeadParser.Parsed, head: inout HTTPRequestHead?, pathname: String,
        client: IPAddress?, config: RuntimeConfig, eventLoop: EventLoop
    ) -> Result {
        if !route.access.isUnrestricted {
            guard let client, route.access.allows(client) else { return .now(.status(.forbidden)) }
        }
        switch route.action {
        case .redirect(let status, let location):
            return .now(Response(status: HTTPResponseStatus(statusCode: status), headers: [("Location", location)]))
        case .reverseProxy(let proxyRoute):
            // Not relayed (405, as nginx answers both): TRACE has the upstream echo the request,
            // cookies and credentials included, to whatever made it (cross-site tracing), and
            // CONNECT asks for a tunnel to an address of the client's choosing.
            // (Matched by case: `==` on HTTPMethod compares raw value strings.)
            switch request.method {
            case .TRACE, .CONNECT: return .now(Response(status: .methodNotAllowed, headers: [("Allow", Self.proxiedMethods)]))
            default: return .proxy(proxyRoute)
            }
        case .metrics(let prometheus):
            return .now(metrics(config: config, prometheus: prometheus))
        case .fileServe(let fs):
            if head == nil { head = request.head }
            let fileRequest = FileRequest(head: head!)
            switch files.serve(route: fs, relative: PathResolver.relative(pathname, toRoute: route.reqPath), request: fileRequest) {
            case .response(let r):
                return compression.apply(r, request: fileRequest, route: fs, eventLoop: eventLoop)
            case .listing(let directory, let root):
                let future = threadPool.runIfActive(eventLoop: eventLoop) { () -> Response in
                    let listing: DirectoryListing
                    switch DirectoryListing.read(directory, root: root) {
                    case .success(let l): listing = l
                    case .failure(let e): return .status(e.status)
                    }
                    let html = ListingRenderer.html(pathname: pathname, listing: listing)
                    var body = ByteBuffer(string: html)
                    var r = Response(status: .ok, headers: [("Content-Type", "text/html")])
                    if fs.gzipListing && fs.compression.varies(contentType: "text/html", size: body.readableBytes) {
                        r.headers.append(("Vary", "Accept-Encoding"))
                        if AcceptEncoding.acceptsGzip(fileRequest.acceptEncoding), let gz = try? Gzip.compress(body, level: fs.gzipLevel) {
                            body = gz
                            r.headers.append(("Content-Encoding", "gzip"))
                        }
                    }
                    r.body = .buffer(body)
                    return fileRequest.isHead ? r.withoutBody() : r
                }
                return .later(future)
            }
        }
    }
}
