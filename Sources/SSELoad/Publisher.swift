import NIOCore
import NIOPosix
import SSEClient

/// Publishes numbered, timestamped events on one keep-alive connection.
final class Publisher: Sendable {
    private let channel: Channel
    private let handler: NIOLoopBound<PublisherHandler>

    private init(channel: Channel, handler: NIOLoopBound<PublisherHandler>) {
        self.channel = channel
        self.handler = handler
    }

    static func connect(
        to url: HTTPURL, headers: [(name: String, value: String)], tls: TLSOptions = TLSOptions(), group: EventLoopGroup
    ) async throws -> Publisher {
        let head = try RequestHead(method: "POST", url: url, headers: headers)
        // Over https the publisher speaks HTTP/1.1 (pipelined), trusting as the subscribers do.
        let context = url.isSecure ? try tls.makeContext(applicationProtocols: ["http/1.1"]) : nil
        // The handler is in the pipeline before the connection is made, so an answer that comes at
        // once (a server at its connection limit answers 503 and closes) is read, not lost.
        let slot = HandlerSlot<PublisherHandler>()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context { try tls.addHandler(to: channel, for: url, context: context) }
                    let handler = PublisherHandler(head: head)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    slot.keep(handler, on: channel.eventLoop)
                }
            }
            .connect(host: url.host, port: url.port).get()
        guard let handler = slot.handler else { throw LoadError("internal: the publisher's reader was not added") }
        return Publisher(channel: channel, handler: handler)
    }

    /// Publishes events 1 to `events`, at most `pipeline` unanswered at once and, with a `rate`, none
    /// before its time; succeeds with the seconds it took once every answer is in, fails on the first
    /// error answer or a closed connection.
    func publish(events: Int, rate: Double?, pipeline: Int, payloadSize: Int) -> EventLoopFuture<Double> {
        let (handler, eventLoop) = (handler, channel.eventLoop)
        return eventLoop.flatSubmit {
            handler.value.start(.init(events: events, rate: rate, pipeline: max(1, pipeline), payloadSize: payloadSize), on: eventLoop)
        }
    }

    func close() { channel.close(promise: nil) }
}

/// Drives publishing from the connection's event loop: the next request goes out as soon as an
/// answer makes room in the pipeline (read in the same loop turn) or its time comes, without a hop to
/// another thread, so the publisher keeps pace with the server however busy the subscribers on the
/// same loop keep it; each send timestamp is taken just before its request is written.
///
/// Invariant: used only on its channel's event loop; answers arrive in request order.
final class PublisherHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    struct Plan {
        var events: Int
        var rate: Double?
        var pipeline: Int
        var payloadSize: Int
    }

    private let head: RequestHead
    private var reader = HTTPResponseReader()
    private var status = 0
    private var context: ChannelHandlerContext?
    private var plan: Plan?
    private var finished: EventLoopPromise<Double>?
    private var startedAt: UInt64 = 0
    private var nextSequence = 1
    private var unanswered = 0
    private var wakeUp: Scheduled<Void>?
    /// Why publishing cannot start: the connection closed, after an answer nothing asked for (a
    /// server at its connection limit answers 503 as it accepts).
    private var closedReason: String?

    init(head: RequestHead) {
        self.head = head
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func start(_ plan: Plan, on eventLoop: EventLoop) -> EventLoopFuture<Double> {
        if let closedReason { return eventLoop.makeFailedFuture(LoadError(closedReason)) }
        guard context != nil, finished == nil else { return eventLoop.makeFailedFuture(LoadError("the publisher is not ready to publish")) }
        let promise = eventLoop.makePromise(of: Double.self)
        self.plan = plan
        finished = promise
        startedAt = MonotonicTime.nanoseconds()
        if plan.events <= 0 { finish(nil) } else { pump() }
        return promise.futureResult
    }

    /// Sends every request the pipeline and the rate allow now; wakes itself for the next one due.
    private func pump() {
        guard let context, let plan, finished != nil, wakeUp == nil else { return }
        var sent = false
        while unanswered < plan.pipeline, nextSequence <= plan.events {
            if let rate = plan.rate, rate > 0 {
                // Within 292 years of the start, so the addition cannot overflow; `rates` keeps it far inside.
                let due = startedAt + UInt64(min(Double(nextSequence - 1) / rate * 1e9, 9e18))
                let now = MonotonicTime.nanoseconds()
                if due > now {
                    wakeUp = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(due - now))) { [self] in
                        wakeUp = nil
                        pump()
                    }
                    break
                }
            }
            let body = LoadGenerator.payload(sequence: nextSequence, size: plan.payloadSize)
            var request = ByteBuffer(bytes: head.bytes(contentLength: body.utf8.count))
            request.writeString(body)
            context.write(NIOAny(request), promise: nil)
            nextSequence += 1
            unanswered += 1
            sent = true
        }
        if sent { context.flush() }
    }

    private func finish(_ error: Error?) {
        guard let promise = finished else { return }
        finished = nil
        wakeUp?.cancel()
        wakeUp = nil
        if let error { promise.fail(error) } else { promise.succeed(Double(MonotonicTime.nanoseconds() - startedAt) / 1e9) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { bytes in
                try reader.read(bytes) { event in
                    switch event {
                    case .head(let head): status = head.status
                    case .body: break
                    case .end:
                        guard unanswered > 0 else {
                            closedReason = "publishing answered HTTP \(status) before any event was sent"
                            return
                        }
                        unanswered -= 1
                        guard (200..<300).contains(status) else { return finish(LoadError("publishing answered HTTP \(status)")) }
                        if unanswered == 0, let plan, nextSequence > plan.events { finish(nil) }
                    }
                }
            }
        } catch {
            finish(error)
            context.close(promise: nil)
            return
        }
        pump()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if closedReason == nil { closedReason = "the publish connection closed" }
        finish(LoadError(closedReason ?? ""))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(error)
        context.close(promise: nil)
    }
}
