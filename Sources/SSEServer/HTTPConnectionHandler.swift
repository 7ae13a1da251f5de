import EventStream
import NIOCore
import NIOHTTP1
import NIOHTTP2

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Serves one HTTP connection: routes each request, answers plain requests (keep-alive), and turns
/// a `GET /streams/NAME` into a subscription that lives until either side closes.
///
/// Invariant: runs on the server's event loop, where `core` lives; once subscribed, further request
/// bytes are ignored.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case reading(HTTPRequestHead, ByteBuffer?)
        case discarding
        case subscribed(Subscriber)
        /// Held for the stream's scenario (see `ServerCore.admit`); further request bytes are ignored.
        case awaitingScenario(ticket: Int)
        case closed
    }

    /// A publish request read but not yet carried out: publishes that arrive together (pipelined)
    /// are carried out together when the read ends, so each subscriber gets them in one write.
    private struct PendingPublish {
        let stream: String
        let event: ServerSentEvent
        let target: Int?
        let cors: [(String, String)]
        let keepAlive: Bool
    }

    private let core: NIOLoopBoundBox<ServerCore>
    /// How a subscriber on this connection writes (see `SocketWriter`).
    private let writer: SocketWriter
    private var state = State.idle
    private var pendingPublishes: [PendingPublish] = []
    private var headTimeout: Scheduled<Void>?
    private var bodyTimeout: Scheduled<Void>?
    private(set) var remote = "unknown"
    private var peerReason = "the client closed or reset the connection"
    /// The request being routed is a HEAD: its one answer has a head and no body (RFC 9110 §9.3.2).
    /// Set by `route` (after the publishes before it were answered) and used up by that answer.
    private var answeringHEAD = false

    /// This handler counts its channel against `maxConnections`; false where the channel is one
    /// HTTP/2 stream or rides a TLS connection, which `ConnectionGate` counts instead.
    private let countsConnection: Bool
    private var isActivated = false
    /// How this connection speaks; an HTTP/2 stream's id is filled in when it activates.
    private var transport: Transport

    init(core: NIOLoopBoundBox<ServerCore>, writer: SocketWriter, countsConnection: Bool = true, transport: Transport = .plain) {
        self.core = core
        self.writer = writer
        self.countsConnection = countsConnection
        self.transport = transport
    }

    var server: ServerCore { core.value }

    /// Added to a channel already active (after TLS's protocol negotiation): served from here.
    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { activate(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context)
        context.fireChannelActive()
    }

    private func activate(_ context: ChannelHandlerContext) {
        guard !isActivated else { return }
        isActivated = true
        remote = Self.describe(context.channel.remoteAddress)
        if transport.httpVersion == "2", let id = try? context.channel.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID) {
            transport.http2StreamID = Int(id)
        }
        guard !countsConnection || server.connectionOpened(context.channel) else {
            let reason = server.isStopping ? "the server is stopping" : "too many connections (limit \(server.configuration.limits.maxConnections))"
            server.log(.requestError(remote: remote, status: 503, reason: reason))
            respond(context, status: 503, body: "503 Service Unavailable: \(reason)\n", keepAlive: false)
            state = .closed
            return
        }
        armHeadTimeout(context)
    }

    /// Closes the connection with 408 unless a request head arrives in time.
    private func armHeadTimeout(_ context: ChannelHandlerContext) {
        headTimeout?.cancel()
        let milliseconds = server.configuration.limits.requestHeadTimeoutMilliseconds
        headTimeout = requestTimeout(context, after: milliseconds, reason: "no complete request head within \(milliseconds) ms") {
            if case .idle = $0 { true } else { false }
        }
    }

    /// Closes the connection with 408 unless the request's body has arrived whole in time.
    private func armBodyTimeout(_ context: ChannelHandlerContext) {
        bodyTimeout?.cancel()
        let milliseconds = server.configuration.limits.requestBodyTimeoutMilliseconds
        bodyTimeout = requestTimeout(context, after: milliseconds, reason: "the request body did not arrive within \(milliseconds) ms of its head") {
            if case .reading = $0 { true } else { false }
        }
    }

    /// Answers 408 (naming `reason`) and closes, `milliseconds` from now, if the connection is
    /// `stillWaiting` then; nil when the limit is 0 (none).
    private func requestTimeout(
        _ context: ChannelHandlerContext, after milliseconds: Int, reason: String, stillWaiting: @escaping (State) -> Bool
    ) -> Scheduled<Void>? {
        guard milliseconds > 0 else { return nil }
        return context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) { [self] in
            guard stillWaiting(state) else { return }
            server.log(.requestError(remote: remote, status: 408, reason: reason))
            respond(context, status: 408, body: "408 Request Timeout: \(reason)\n", keepAlive: false)
            state = .discarding
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        publishPending(context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        headTimeout?.cancel()
        bodyTimeout?.cancel()
        publishPending(context)
        if countsConnection { server.connectionClosed(context.channel) }
        switch state {
        case .subscribed(let subscriber): server.unsubscribe(subscriber, peerReason: peerReason)
        case .awaitingScenario(let ticket): server.abandonPending(ticket)
        default: break
        }
        state = .closed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            headTimeout?.cancel()
            if let problem = headProblem(head) {
                server.log(.requestError(remote: remote, status: problem.status, reason: problem.reason))
                respond(
                    context, status: problem.status, body: "\(problem.status) \(HTTPResponse.reasonPhrase(problem.status)): \(problem.reason)\n",
                    keepAlive: false)
                state = .discarding
                return
            }
            state = .reading(head, nil)
            armBodyTimeout(context)
        case (.reading(let head, var body), .body(var chunk)):
            let size = (body?.readableBytes ?? 0) + chunk.readableBytes
            if size > server.configuration.limits.maxBodySize {
                let reason = "request body larger than the limit of \(server.configuration.limits.maxBodySize) bytes"
                server.log(.requestError(remote: remote, status: 413, reason: reason))
                respond(context, status: 413, body: "413 Payload Too Large: \(reason)\n", keepAlive: false)
                state = .discarding
                return
            }
            if body == nil { body = chunk } else { body?.writeBuffer(&chunk) }
            state = .reading(head, body)
        case (.reading(let head, let body), .end):
            bodyTimeout?.cancel()
            state = .idle
            route(context, head: head, body: body ?? context.channel.allocator.buffer(capacity: 0))
            if case .idle = state { armHeadTimeout(context) }
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch state {
        case .subscribed, .awaitingScenario:
            peerReason = Self.describe(error)
            context.close(promise: nil)
        case .closed, .discarding:
            context.close(promise: nil)
        case .idle where error is NIOHTTP2Errors.StreamClosed, .reading where error is NIOHTTP2Errors.StreamClosed:
            // An HTTP/2 client that reset its stream: it left, and no answer can reach it.
            context.close(promise: nil)
        case .idle, .reading:
            let status = (error as? HTTPParserError) == .headerOverflow ? 431 : 400
            let reason = "malformed request: \(Self.describe(error))"
            server.log(.requestError(remote: remote, status: status, reason: reason))
            respond(context, status: status, body: "\(status) \(HTTPResponse.reasonPhrase(status)): \(reason)\n", keepAlive: false)
            state = .discarding
        }
    }

    // MARK: Routing

    /// The bytes `text` took on the wire: the parser hands headers over as strings, each byte that
    /// was not UTF-8 replaced by U+FFFD (3 bytes), which counts as the 1 byte it was.
    static func wireSize(_ text: String) -> Int {
        let utf8 = text.utf8.count
        guard text.utf8.contains(0xEF) else { return utf8 }
        return utf8 - 2 * text.unicodeScalars.reduce(0) { $0 + ($1 == "\u{FFFD}" ? 1 : 0) }
    }

    private func headProblem(_ head: HTTPRequestHead) -> (status: Int, reason: String)? {
        let headerBytes = Self.wireSize(head.uri) + head.headers.reduce(0) { $0 + Self.wireSize($1.name) + Self.wireSize($1.value) + 4 }
        if headerBytes > server.configuration.limits.maxHeaderSize {
            return (431, "request head of \(headerBytes) bytes is over the limit of \(server.configuration.limits.maxHeaderSize)")
        }
        return nil
    }

    private func route(_ context: ChannelHandlerContext, head: HTTPRequestHead, body: ByteBuffer) {
        if head.method != .POST { publishPending(context) }
        answeringHEAD = head.method == .HEAD
        let request = Request(head: head)
        let keepAlive = head.isKeepAlive
        let cors = corsHeaders(for: head)
        guard let segments = request.pathSegments else {
            return fail(
                context, 400, "the path \(head.uri.prefix(80).debugDescription) is not valid percent-encoded UTF-8", cors: cors, keepAlive: keepAlive)
        }
        if head.method == .OPTIONS {
            var headers = cors
            headers.append(("Access-Control-Allow-Methods", "GET, POST, OPTIONS"))
            let requested = head.headers.first(name: "Access-Control-Request-Headers")
            headers.append(("Access-Control-Allow-Headers", requested ?? "Authorization, Content-Type, Last-Event-ID, Cache-Control"))
            headers.append(("Access-Control-Max-Age", "600"))
            return respond(context, status: 204, body: "", headers: headers, keepAlive: keepAlive)
        }
        if let route = server.routes["/" + segments.joined(separator: "/")] {
            publishPending(context)
            guard route.methods.contains(head.method.rawValue) else {
                return fail(
                    context, 405,
                    "\(head.method.rawValue) is not allowed on \(request.path); stream \(route.stream) answers \(route.methods.joined(separator: ", "))",
                    cors: cors + [("Allow", route.methods.joined(separator: ", "))], keepAlive: keepAlive)
            }
            guard authorized(request) else { return unauthorized(context, cors: cors, keepAlive: keepAlive) }
            return subscribe(context, to: route.stream, request: request, body: body, cors: cors, keepAlive: keepAlive)
        }
        switch (head.method, segments.count, segments.first) {
        case (.GET, 0, _), (.HEAD, 0, _):
            respond(context, status: 200, contentType: "text/html; charset=utf-8", body: ViewerPage.html, headers: cors, keepAlive: keepAlive)
        case (.GET, 1, "timeline"):
            // The workbench's timeline, live, for the viewer page: an event stream like any other.
            guard authorized(request) else { return unauthorized(context, cors: cors, keepAlive: keepAlive) }
            subscribe(context, to: ServerCore.timelineStream, request: request, body: body, cors: cors, keepAlive: keepAlive)
        case (.GET, 1, "streams"):
            guard authorized(request) else { return unauthorized(context, cors: cors, keepAlive: keepAlive) }
            respond(
                context, status: 200, contentType: "application/json",
                body: ServerListing.json(server.snapshot(), supplement: server.listingSupplement?() ?? []), headers: cors,
                keepAlive: keepAlive)
        case (.GET, 2, "streams"):
            guard authorized(request) else { return unauthorized(context, cors: cors, keepAlive: keepAlive) }
            let name = segments[1]
            do throws(ServerError) { try StreamName.validate(name) } catch {
                return fail(context, 400, error.description, cors: cors, keepAlive: keepAlive)
            }
            subscribe(context, to: name, request: request, body: body, cors: cors, keepAlive: keepAlive)
        case (.POST, 2, "streams"):
            guard authorized(request) else { return unauthorized(context, cors: cors, keepAlive: keepAlive) }
            publish(context, stream: segments[1], request: request, body: body, cors: cors, keepAlive: keepAlive)
        case (_, 0, _), (_, 1, "streams"), (_, 2, "streams"):
            fail(
                context, 405, "\(head.method.rawValue) is not allowed on \(request.path); use GET (or POST to publish)", cors: cors,
                keepAlive: keepAlive)
        default:
            fail(
                context, 404, "nothing at \(request.path.prefix(80).debugDescription); streams live at /streams/NAME", cors: cors,
                keepAlive: keepAlive)
        }
    }

    /// Subscribes the connection to `name`, or hands it to the stream's scenario, or answers it with
    /// a rejection; the state says which.
    private func subscribe(
        _ context: ChannelHandlerContext, to name: String, request: Request, body: ByteBuffer, cors: [(String, String)], keepAlive: Bool
    ) {
        let head = request.head
        let lastEventId = head.headers.first(name: "Last-Event-ID") ?? request.query["lastEventId"]
        let incoming = IncomingRequest(
            method: head.method.rawValue, path: request.path, query: request.query,
            headers: head.headers.map { HeaderField(name: $0.name, value: $0.value) }, body: Array(body.readableBytesView), remote: remote)
        let subscription = SubscriptionRequest(
            streamName: name, lastEventId: lastEventId,
            // On HTTP/2 the body goes unframed (HTTP2StreamAdapter passes it through as DATA).
            usesChunkedFraming: head.version.major == 1 && head.version.minor >= 1,
            corsHeaders: cors, remote: remote, context: context, writer: writer, transport: transport, request: incoming)
        do throws(ServerError) {
            let admission = try server.admit(subscription) { [self] subscriber in
                guard case .awaitingScenario = state else { return }
                state = subscriber.map { .subscribed($0) } ?? .discarding
                if subscriber != nil { shedRequestDecoder(context) }
            }
            switch admission {
            case .subscribed(let subscriber):
                state = .subscribed(subscriber)
                shedRequestDecoder(context)
            case .answered: state = .discarding
            case .awaitingScenario(let ticket): state = .awaitingScenario(ticket: ticket)
            }
        } catch {
            fail(context, Self.status(for: error), error.description, cors: cors, keepAlive: keepAlive)
        }
    }

    /// A subscribed HTTP/1.x connection reads no more requests (its stream ends with the
    /// connection, and later bytes are ignored), so its request decoder goes, with the parser and
    /// buffers it holds: an idle subscriber keeps only what writing events needs. Bytes that still
    /// come are dropped by `IgnoredInput`; closes and errors reach this handler as before. Done
    /// after the current read, not inside the decoder's own call.
    private func shedRequestDecoder(_ context: ChannelHandlerContext) {
        guard transport.httpVersion != "2" else { return }
        let pipeline = context.pipeline
        context.eventLoop.assumeIsolated().execute { [self] in
            let operations = pipeline.syncOperations
            guard case .subscribed = state, let decoder = try? operations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            else { return }
            do {
                try operations.addHandler(IgnoredInput(), position: .before(self))
                operations.removeHandler(context: decoder, promise: nil)
            } catch {
                // The pipeline is closing; nothing is held past the close.
            }
        }
    }

    private func publish(
        _ context: ChannelHandlerContext, stream: String, request: Request, body: ByteBuffer, cors: [(String, String)], keepAlive: Bool
    ) {
        let event: ServerSentEvent
        switch PublishRequest.event(query: request.query, contentType: request.head.headers.first(name: "Content-Type"), body: body) {
        case .success(let parsed): event = parsed
        case .failure(let problem): return fail(context, 400, problem.message, cors: cors, keepAlive: keepAlive)
        }
        let target = request.query["client"].flatMap(Int.init)
        if request.query["client"] != nil, target == nil {
            return fail(context, 400, "client must be a client id number", cors: cors, keepAlive: keepAlive)
        }
        pendingPublishes.append(PendingPublish(stream: stream, event: event, target: target, cors: cors, keepAlive: keepAlive))
    }

    /// Carries out the publishes read so far and answers them. The fan-out goes on in slices after
    /// the answers (`ServerCore.broadcast`), so a publisher's next events join the fan-out under way.
    private func publishPending(_ context: ChannelHandlerContext) {
        guard !pendingPublishes.isEmpty else { return }
        let publishes = pendingPublishes
        pendingPublishes.removeAll()
        for publish in publishes {
            do throws(ServerError) {
                let receipt = try server.publish(stream: publish.stream, event: publish.event, to: publish.target)
                let json = JSONValue.object([
                    ("id", receipt.id.map(JSONValue.string) ?? .null), ("clients", .number(String(receipt.clients))),
                ]).serialized
                respond(context, status: 200, contentType: "application/json", body: json + "\n", headers: publish.cors, keepAlive: publish.keepAlive)
            } catch {
                fail(context, Self.status(for: error), error.description, cors: publish.cors, keepAlive: publish.keepAlive)
            }
        }
    }

    // MARK: Responses

    /// Answers `status` with `reason` as the body (and in the log), its secrets masked: a path may carry `?token=`.
    func fail(_ context: ChannelHandlerContext, _ status: Int, _ reason: String, cors: [(String, String)], keepAlive: Bool) {
        let reason = Secrets.masked(reason)
        server.log(.requestError(remote: remote, status: status, reason: reason))
        respond(context, status: status, body: "\(status) \(HTTPResponse.reasonPhrase(status)): \(reason)\n", headers: cors, keepAlive: keepAlive)
    }

    func respond(
        _ context: ChannelHandlerContext, status: Int, contentType: String = "text/plain; charset=utf-8", body: String,
        headers: [(String, String)] = [], keepAlive: Bool
    ) {
        // Responses go out in the order their requests came (RFC 9112 §9.3): publishes read before
        // this request, and still waiting for the end of the read, are answered first.
        publishPending(context)
        let omitsBody = answeringHEAD
        answeringHEAD = false
        let response = HTTPResponse.complete(
            status: status, contentType: contentType, body: body, headers: headers, keepAlive: keepAlive, omitsBody: omitsBody,
            allocator: context.channel.allocator)
        let written = context.writeAndFlush(wrapOutboundOut(response))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// The status that answers a request the core refused.
    static func status(for error: ServerError) -> Int {
        switch error {
        case .noSuchClient: 404
        case .limitReached: 503
        default: 400
        }
    }

    static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "unknown" }
        guard let ip = address.ipAddress, let port = address.port else { return address.description }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    static func describe(_ error: Error) -> String {
        if let reset = error as? NIOHTTP2Errors.StreamClosed {
            let names = [0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL"]
            let code = reset.errorCode.networkCode
            return "the client reset its HTTP/2 stream (RST_STREAM \(names[code] ?? "code \(code)"))"
        }
        if let ioError = error as? IOError {
            switch ioError.errnoCode {
            case ECONNRESET: return "connection reset by the client"
            case EPIPE: return "the client went away while being written to"
            case ETIMEDOUT: return "the client stopped acknowledging what it was sent (a half-open connection: its host or network is gone)"
            default: return ioError.description
            }
        }
        return String(describing: error)
    }
}
