import EventStream
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a client connects, reconnects and reads.
public struct ClientOptions: Sendable {
    public var request: ClientRequest
    public var policy: ReconnectPolicy
    /// Reconnect when an open stream ends or breaks (the spec's behaviour); false closes instead.
    public var reconnects: Bool
    /// Retry when the very first connection cannot be made (browsers do); false fails at once.
    public var retriesInitialConnection: Bool
    /// A stream silent for this long counts as broken (then reconnects like any break).
    public var readTimeout: Duration?
    public var connectTimeout: Duration
    public var limits: EventStreamParser.Limits
    /// Report body bytes as they are read (after de-chunking), one `.raw` per read.
    public var reportsRawBytes: Bool

    public init(
        request: ClientRequest, policy: ReconnectPolicy = ReconnectPolicy(), reconnects: Bool = true, retriesInitialConnection: Bool = false,
        readTimeout: Duration? = nil, connectTimeout: Duration = .seconds(10), limits: EventStreamParser.Limits = .init(),
        reportsRawBytes: Bool = false
    ) {
        self.request = request
        self.policy = policy
        self.reconnects = reconnects
        self.retriesInitialConnection = retriesInitialConnection
        self.readTimeout = readTimeout
        self.connectTimeout = connectTimeout
        self.limits = limits
        self.reportsRawBytes = reportsRawBytes
    }
}

/// Everything a client sees, in order.
public enum ClientEvent: Sendable, Hashable {
    /// A request is being sent; `lastEventId` is the `Last-Event-ID` it carries (nil: none).
    case connecting(url: String, method: String, lastEventId: String?)
    /// The response was accepted: the stream is open.
    case open(status: Int)
    case event(ServerSentEvent)
    case comment(String)
    /// A valid `retry:` field: the new reconnection time in milliseconds.
    case retry(Int)
    /// Body bytes exactly as one read delivered them (with `reportsRawBytes`).
    case raw([UInt8])
    /// The stream ended or broke; the next attempt comes after `delay`.
    case reconnecting(after: Duration, reason: String)
    /// Nothing more will happen; `isFailure` is false for a 204 or a close by the user.
    case closed(reason: String, isFailure: Bool)
}

/// An `EventSource` over SwiftNIO that follows the spec's rules (see `EventSourceStateMachine`) and
/// reports everything it sees. One run is one source: it connects, reads, reconnects with
/// `Last-Event-ID`, and returns when the source closes; cancelling the task closes it.
public enum EventSourceClient {
    /// Runs the source until it closes, calling `handle` for each event in order; returns the final `.closed`.
    @discardableResult
    public static func run(
        _ options: ClientOptions,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        handle: (ClientEvent) async -> Void
    ) async -> ClientEvent {
        var machine = EventSourceStateMachine(
            url: options.request.url, method: options.request.method, policy: options.policy, reconnects: options.reconnects,
            retriesInitialConnection: options.retriesInitialConnection)
        var parser = EventStreamParser(limits: options.limits, reportsComments: true, lastEventId: options.request.lastEventId)
        var random = SystemRandomNumberGenerator()
        var action = machine.start()
        while true {
            switch action {
            case .connect(let request):
                let lastEventId = parser.lastEventId
                await handle(.connecting(url: request.url.description, method: request.method, lastEventId: lastEventId.isEmpty ? nil : lastEventId))
                let outcome = await attempt(
                    request, options: options, lastEventId: lastEventId, group: group, machine: &machine, parser: &parser, handle: handle)
                parser.endOfStream()
                switch outcome {
                case .next(let next): action = next
                case .lost(let reason): action = machine.connectionLost(reason: reason, using: &random)
                case .cancelled: action = machine.userClosed()
                }
            case .open:
                action = .closed(reason: "internal: open outside a connection", isFailure: true)
            case .wait(let delay, let reason):
                await handle(.reconnecting(after: delay, reason: reason))
                do {
                    try await sleep(delay)
                    action = machine.reconnect()
                } catch {
                    action = machine.userClosed()
                }
            case .closed(let reason, let isFailure):
                let closed = ClientEvent.closed(reason: reason, isFailure: isFailure)
                await handle(closed)
                return closed
            }
        }
    }

    private enum Outcome {
        /// The machine decided (a redirect or a final close).
        case next(EventSourceStateMachine.Action)
        /// The connection ended, broke or could not be made.
        case lost(String)
        case cancelled
    }

    private static func attempt(
        _ request: EventSourceStateMachine.Request,
        options: ClientOptions,
        lastEventId: String,
        group: EventLoopGroup,
        machine: inout EventSourceStateMachine,
        parser: inout EventStreamParser,
        handle: (ClientEvent) async -> Void
    ) async -> Outcome {
        if Task.isCancelled { return .cancelled }
        guard !request.url.isSecure else { return .next(machine.fail("https is not supported yet by this client: \(request.url)")) }
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            let readTimeout = options.readTimeout
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.nanoseconds(Int64(options.connectTimeout.components.seconds) * 1_000_000_000))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: request.url.host, port: request.url.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let readTimeout {
                            try channel.pipeline.syncOperations.addHandler(ReadTimeoutHandler(timeout: readTimeout))
                        }
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            return .lost("cannot connect to \(request.url.hostHeader): \(describe(error))")
        }
        var reader = HTTPResponseReader()
        var outcome = Outcome.lost("the server closed the connection")
        do {
            try await channel.executeThenClose { inbound, outbound in
                let bytes = options.request.serialized(
                    url: request.url, method: request.method, sendsBody: request.sendsBody, lastEventId: lastEventId)
                try await outbound.write(ByteBuffer(bytes: bytes))
                var isOpen = false
                reading: for try await buffer in inbound {
                    var seen: [ClientEvent] = []
                    var decision: Outcome?
                    try buffer.withUnsafeReadableBytes { raw in
                        try reader.read(raw) { item in
                            guard decision == nil else { return }
                            switch item {
                            case .head(let head):
                                let action = machine.received(
                                    status: head.status, location: head.value(of: "Location"), contentType: head.value(of: "Content-Type"))
                                if action == .open {
                                    isOpen = true
                                    seen.append(.open(status: head.status))
                                } else {
                                    decision = .next(action)
                                }
                            case .body(let range):
                                guard isOpen else { return }
                                let body = UnsafeRawBufferPointer(rebasing: raw[range])
                                if options.reportsRawBytes { seen.append(.raw(Array(body))) }
                                do throws(EventStreamError) {
                                    try parser.parse(body) { output in
                                        switch output {
                                        case .event(let event): seen.append(.event(event))
                                        case .comment(let text): seen.append(.comment(text))
                                        case .retry(let milliseconds):
                                            machine.retryChanged(milliseconds: milliseconds)
                                            seen.append(.retry(milliseconds))
                                        }
                                    }
                                } catch {
                                    decision = .next(machine.fail("the stream broke a limit at line \(error.line): \(error)"))
                                }
                            case .end:
                                if isOpen { decision = .lost("the server ended the stream") }
                            }
                        }
                    }
                    for event in seen { await handle(event) }
                    if let decision {
                        outcome = decision
                        break reading
                    }
                }
            }
        } catch is CancellationError {
            return .cancelled
        } catch {
            if Task.isCancelled { return .cancelled }
            outcome = .lost(describe(error))
        }
        if Task.isCancelled { return .cancelled }
        return outcome
    }

    /// One line for what went wrong on a connection.
    static func describe(_ error: Error) -> String {
        if error is ReadTimeoutHandler.Timeout { return "no data within the read timeout" }
        if let failure = error as? HTTPResponseReader.Failure { return "malformed response: \(failure)" }
        if let ioError = error as? IOError {
            switch ioError.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ECONNRESET: return "connection reset by the server"
            case ETIMEDOUT: return "timed out"
            case EHOSTUNREACH, ENETUNREACH: return "host unreachable"
            default: return ioError.description
            }
        }
        if let connectError = error as? NIOConnectionError {
            if let first = connectError.connectionErrors.first { return describe(first.error) }
            if connectError.dnsAAAAError != nil || connectError.dnsAError != nil { return "cannot resolve \(connectError.host)" }
            return "cannot connect to \(connectError.host):\(connectError.port)"
        }
        if let channelError = error as? ChannelError, case .connectTimeout = channelError { return "connect timed out" }
        return String(describing: error)
    }
}

extension EventSourceStateMachine {
    /// Stops for good because of something the client found wrong with the stream.
    public mutating func fail(_ reason: String) -> Action {
        var random = SystemRandomNumberGenerator()
        let wasReconnecting = reconnects
        reconnects = false
        retriesInitialConnection = false
        let action = connectionLost(reason: reason, using: &random)
        reconnects = wasReconnecting
        if case .closed(let closedReason, _) = action { return .closed(reason: closedReason.replacingSuffix("; not reconnecting"), isFailure: true) }
        return action
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

/// Closes a connection that has read nothing for `timeout`, failing it with `Timeout`.
final class ReadTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    struct Timeout: Error {}

    private let timeout: TimeAmount
    private var scheduled: Scheduled<Void>?

    init(timeout: Duration) {
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arm(context)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        scheduled?.cancel()
        context.fireChannelInactive()
    }

    private func arm(_ context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.fireErrorCaught(Timeout())
            context.close(promise: nil)
        }
    }
}
