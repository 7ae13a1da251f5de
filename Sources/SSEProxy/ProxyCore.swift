import NIOCore
import NIOPosix
import NIOSSL
import SSEClient
import SSEServer
import Synchronization

/// Faults given while no event stream was open, for the next one that opens.
struct PendingFaults {
    var relay = RelayFaults()
    var pacing = Pacing()
}

/// What a proxy's connections share: the upstream, the limits, the numbering of exchanges, the open
/// ones (each with its event loop), and the faults and rejections waiting for the next exchange.
/// Safe from any thread: its state is behind one lock, and a connection is touched only on its loop.
final class ProxyCore: Sendable {
    private struct OpenExchange {
        let loop: EventLoop
        let connection: NIOLoopBound<ProxyConnection>
    }

    private struct State {
        var nextNumber = 1
        var open: [Int: OpenExchange] = [:]
        var channels: [ObjectIdentifier: Channel] = [:]
        var pending = PendingFaults()
        var rejections: [(rejection: Rejection, remaining: Int)] = []
    }

    let upstream: HTTPURL
    let tlsContext: NIOSSLContext?
    let limits: ProxyServer.Limits
    /// Whether event streams' events are reported (otherwise only counted, for the faults).
    let reportsEvents: Bool
    private let reporter: @Sendable (ProxyEvent) -> Void
    private let state = Mutex(State())

    init(
        upstream: HTTPURL, tlsContext: NIOSSLContext?, limits: ProxyServer.Limits, reportsEvents: Bool,
        report: @escaping @Sendable (ProxyEvent) -> Void
    ) {
        self.upstream = upstream
        self.reportsEvents = reportsEvents
        self.tlsContext = tlsContext
        self.limits = limits
        self.reporter = report
    }

    func report(_ event: ProxyEvent) { reporter(event) }

    // MARK: connections

    /// Counts in a new client connection; false when the limit is reached (it is to be closed).
    func admits(_ channel: Channel) -> Bool {
        let admitted = state.withLock { state in
            guard state.channels.count < limits.maxConnections else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) } }
        }
        return admitted
    }

    /// Numbers a new exchange of `connection` (on its loop) and lists it as open.
    func opened(_ connection: ProxyConnection, on loop: EventLoop) -> Int {
        state.withLock { state in
            let number = state.nextNumber
            state.nextNumber += 1
            state.open[number] = OpenExchange(loop: loop, connection: NIOLoopBound(connection, eventLoop: loop))
            return number
        }
    }

    func closed(_ number: Int) { _ = state.withLock { $0.open.removeValue(forKey: number) } }

    /// Runs `body` on the loop of one open exchange, or of every one; when no exchange took it (none
    /// open, or none an event stream), `orPending` changes the faults waiting for the next stream.
    func apply(
        connection number: Int?, _ body: @escaping @Sendable (ProxyConnection) -> Void, orPending: (inout PendingFaults) -> Void
    ) async throws(ProxyError) {
        let targets: [OpenExchange] = try state.withLock { state throws(ProxyError) in
            guard let number else { return Array(state.open.values) }
            guard let exchange = state.open[number] else { throw .noSuchConnection(number) }
            return [exchange]
        }
        var streams = 0
        for target in targets {
            let tookIt = try? await target.loop.submit {
                let connection = target.connection.value
                let isStream = connection.relay != nil
                body(connection)
                return isStream
            }.get()
            if tookIt == true { streams += 1 }
        }
        if streams == 0, number == nil { state.withLock { orPending(&$0.pending) } }
    }

    /// The faults waiting for the next event stream, handed over once.
    func faultsForNewStream() -> PendingFaults {
        state.withLock { state in
            defer { state.pending = PendingFaults() }
            return state.pending
        }
    }

    func queueRejection(_ rejection: Rejection, count: Int) { state.withLock { $0.rejections.append((rejection, count)) } }

    /// The rejection that answers the next request, if one waits.
    func takeRejection() -> Rejection? {
        state.withLock { state in
            guard var first = state.rejections.first else { return nil }
            first.remaining -= 1
            if first.remaining == 0 { state.rejections.removeFirst() } else { state.rejections[0] = first }
            return first.rejection
        }
    }

    /// Closes every client connection (and so every upstream one).
    func closeAll() async {
        let channels = state.withLock { Array($0.channels.values) }
        for channel in channels { try? await channel.close() }
    }

    // MARK: upstream

    /// A fresh connection to the upstream on `loop` (TLS when it is https), read by `handler`.
    func connectUpstream(on loop: EventLoop, handler: @escaping @Sendable () -> ChannelHandler) -> EventLoopFuture<Channel> {
        let tlsContext = self.tlsContext
        let host = upstream.host
        let address = try? SocketAddress(ipAddress: host, port: upstream.port)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            // One read at a time, so that backpressure (autoRead off while the client is not writable)
            // stops the upstream after at most one more read.
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tlsContext, serverHostname: address == nil ? host : nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler())
                }
            }
        if let address { return bootstrap.connect(to: address) }
        return bootstrap.connect(host: host, port: upstream.port)
    }
}
