import EventStream
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SSEClient
import SSEServer
import Synchronization

/// A reverse proxy for one upstream (`drip proxy`, the REPL's `proxy`): clients are pointed at its
/// URL instead of the server's; every request is forwarded, every answer comes back as it arrives,
/// event streams event by event through an `EventRelay`, where faults can break them on purpose.
/// Each exchange is numbered from 1 and reported to `report` (on the connection's event loop); a
/// problem of the proxy itself, not of one exchange (out of file descriptors), is reported as
/// connection 0.
///
/// Invariants: it listens only where it was told (127.0.0.1 by default); connections at once are
/// at most `limits.maxConnections` (more are closed at once); every fault was validated before it
/// reaches a connection.
public final class ProxyServer: Sendable {
    /// Bounds on what clients may make the proxy hold.
    public struct Limits: Sendable, Hashable {
        public var maxConnections: Int
        public var maxHeaderSize: Int
        public var maxBodySize: Int
        /// Bytes a client may leave unread before it is dropped as too slow.
        public var maxQueuedBytes: Int
        /// How long a client may take to send a request head (after connecting, or between requests).
        public var requestHeadTimeout: Duration
        /// How long a request's body may take to arrive after its head.
        public var requestBodyTimeout: Duration

        public init(
            maxConnections: Int = 10_000, maxHeaderSize: Int = 16 << 10, maxBodySize: Int = 1 << 20, maxQueuedBytes: Int = 1 << 20,
            requestHeadTimeout: Duration = .seconds(10), requestBodyTimeout: Duration = .seconds(30)
        ) {
            self.maxConnections = maxConnections
            self.maxHeaderSize = maxHeaderSize
            self.maxBodySize = maxBodySize
            self.maxQueuedBytes = maxQueuedBytes
            self.requestHeadTimeout = requestHeadTimeout
            self.requestBodyTimeout = requestBodyTimeout
        }
    }

    private let core: ProxyCore
    private let host: String
    private let port: Int
    private let group: EventLoopGroup
    /// Accepts on a thread of its own while the proxy runs.
    private let listener = Mutex<Acceptor?>(nil)

    /// A proxy to `upstream` (an http or https base URL, its path a prefix for every target).
    /// Without `reportsEvents`, what passes in event streams is parsed (for the faults) but not
    /// reported: requests, answers and ends are.
    public init(
        upstream: HTTPURL, host: String = "127.0.0.1", port: Int = 0, tls: TLSOptions = TLSOptions(), limits: Limits = Limits(),
        reportsEvents: Bool = true, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        report: @escaping @Sendable (ProxyEvent) -> Void
    ) throws(ProxyError) {
        let context: NIOSSLContext?
        do {
            context = upstream.isSecure ? try tls.makeContext() : nil
        } catch {
            throw .invalidUpstream("cannot set up TLS for \(upstream): \(error)")
        }
        core = ProxyCore(upstream: upstream, tlsContext: context, limits: limits, reportsEvents: reportsEvents, report: report)
        self.host = host
        self.port = port
        self.group = group
    }

    /// The upstream every request goes to.
    public var upstream: HTTPURL { core.upstream }

    /// Starts listening; returns the port (the one picked when asked for 0).
    public func start() async throws(ProxyError) -> Int {
        let address = "\(host):\(port)"
        let listening: (descriptor: CInt, address: SocketAddress)
        do {
            listening = try ListeningSocket.bind(host: host, port: port, backlog: 1024)
        } catch {
            throw .bindFailed(address: address, reason: "\(error)")
        }
        let core = self.core
        let acceptor: Acceptor
        do {
            acceptor = try Acceptor(
                listening: listening.descriptor, eventLoop: group.next(), log: { core.report(.problem(connection: 0, $0.proxyMessage)) },
                adopt: Self.adoptConnection(core: core, group: group, flushes: DeferredFlushes.PerLoop(group: group)))
        } catch {
            ListeningSocket.close(listening.descriptor)
            throw .bindFailed(address: address, reason: "\(error)")
        }
        let started = listener.withLock { listener in
            guard listener == nil else { return false }
            listener = acceptor
            return true
        }
        guard started else {
            await acceptor.stop()
            throw .bindFailed(address: address, reason: "the proxy is already started")
        }
        return listening.address.port ?? port
    }

    /// Makes a NIO channel of an accepted client's descriptor on the group's next loop. Accepting
    /// here rather than in NIO tells the connection its descriptor, to which it writes directly
    /// (`SocketWriter`): the client's pipeline has no outbound handler (plain HTTP/1.1, raw bytes).
    private static func adoptConnection(core: ProxyCore, group: EventLoopGroup, flushes: DeferredFlushes.PerLoop) -> Acceptor.Adopt {
        { descriptor in
            // The new channel owns the descriptor from here: a failure below is met by NIO closing it.
            ClientBootstrap(group: group.next())
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.allowRemoteHalfClosure, value: false)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard core.admits(channel) else {
                            channel.close(promise: nil)
                            return
                        }
                        let connection = ProxyConnection(
                            core: core, downstream: channel, writer: .forAcceptedConnection(descriptor, writesDirectly: true),
                            flushes: flushes.on(channel.eventLoop))
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                        try channel.pipeline.syncOperations.addHandler(DownstreamHandler(connection: connection))
                    }
                }
                .withConnectedSocket(descriptor)
                .whenFailure { error in core.report(.problem(connection: 0, "could not take a client's connection: \(error)")) }
        }
    }

    /// Stops listening and closes every connection through the proxy.
    public func stop() async {
        let acceptor = listener.withLock { listener in
            defer { listener = nil }
            return listener
        }
        await acceptor?.stop()
        await core.closeAll()
    }

    /// Adds event-level faults: to one open exchange (`connection:`), or to every open event stream —
    /// or, when none is open, to the next one that opens.
    public func addFaults(_ faults: RelayFaults, connection: Int? = nil) async throws(ProxyError) {
        let checked = try faults.validated()
        try await core.apply(connection: connection) { connection in
            if let faults = connection.relay?.faults { connection.relay?.faults = faults.adding(checked) }
        } orPending: {
            $0.relay = $0.relay.adding(checked)
        }
    }

    /// Holds back everything written to the client for `duration` (from now), on one exchange or
    /// every open event stream (or the next one).
    public func stall(for duration: Duration, connection: Int? = nil) async throws(ProxyError) {
        let until = NIODeadline.now() + .nanoseconds(duration.clampedNanoseconds)
        try await pace(connection: connection) { $0.stalledUntil = until }
    }

    /// Adds `latency` before each read is written to the client; nil removes it.
    public func delay(by latency: Duration?, connection: Int? = nil) async throws(ProxyError) {
        let amount = latency.map { TimeAmount.nanoseconds($0.clampedNanoseconds) }
        try await pace(connection: connection) { $0.delay = amount }
    }

    /// Writes to the client in pieces of `size` bytes, `interval` apart; nil writes whole reads again.
    public func chunk(size: Int?, interval: Duration = .milliseconds(10), connection: Int? = nil) async throws(ProxyError) {
        if let size, size < 1 { throw .outOfRange("a chunk size of \(size) bytes is less than 1") }
        let amount = TimeAmount.nanoseconds(interval.clampedNanoseconds)
        try await pace(connection: connection) {
            $0.chunkSize = size
            $0.chunkInterval = amount
        }
    }

    private func pace(connection: Int?, _ change: @escaping @Sendable (inout Pacing) -> Void) async throws(ProxyError) {
        try await core.apply(connection: connection) { connection in
            if connection.relay != nil { connection.changePacing(change) }
        } orPending: {
            change(&$0.pacing)
        }
    }

    /// Ends open exchanges now: one (`connection:`) or every one.
    public func drop(_ mode: DropMode, connection: Int? = nil) async throws(ProxyError) {
        try await core.apply(connection: connection) {
            $0.drop(mode, reason: "dropped by the proxy (\(mode.rawValue))")
        } orPending: { _ in
        }
    }

    /// Answers the next `count` requests with `rejection` without asking the upstream.
    public func reject(_ rejection: Rejection, count: Int = 1) throws(ProxyError) {
        guard (1...Rejection.maxCount).contains(count) else { throw .outOfRange("count \(count) is outside 1 to \(Rejection.maxCount)") }
        do {
            core.queueRejection(try rejection.validated(), count: count)
        } catch {
            throw .outOfRange("\(error)")
        }
    }
}

private final class DownstreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    let connection: ProxyConnection

    init(connection: ProxyConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { connection.downstreamRead(unwrapInboundIn(data)) }
    func channelInactive(context: ChannelHandlerContext) { connection.downstreamClosed() }
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.downstreamWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }
}

/// The upstream side of one exchange: bytes to the connection, and its end.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let connection: ProxyConnection

    init(connection: ProxyConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { connection.upstreamRead(unwrapInboundIn(data)) }
    func channelInactive(context: ChannelHandlerContext) { connection.upstreamClosed() }
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

extension ServerLogEntry {
    /// The acceptor's few lines (about file descriptors), as the proxy says them.
    fileprivate var proxyMessage: String {
        switch self {
        case .descriptorsExhausted(let limit):
            "out of file descriptors (the limit is \(limit)): new clients are answered 503 until some are freed"
        case .descriptorsRecovered(let refused):
            "file descriptors are free again; \(refused) client\(refused == 1 ? " was" : "s were") answered 503 meanwhile"
        default:
            "\(self)"
        }
    }
}
