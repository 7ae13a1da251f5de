import EventStream
import NIOCore
import NIOPosix
import NIOSSL
import SSEClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One connection of `drip check server` to the server under test: sends one request as given and
/// keeps a `ProbeTranscript` of what comes back, which the checks wait on (`wait(for:until:)`) and
/// read. It can leave politely (`close()`) or abruptly (`reset()`, a TCP reset).
///
/// Invariant: the transcript lives on the channel's event loop and is only touched there; callers
/// get copies.
struct ProbeConnection: Sendable {
    private let channel: Channel
    private let handler: NIOLoopBound<ProbeHandler>

    /// Connects to `url`'s host (TLS for https) and sends `request` (a whole request head, and body).
    static func open(
        _ url: HTTPURL, request: [UInt8], tls: TLSOptions, connectTimeout: Duration, group: EventLoopGroup
    ) async throws -> ProbeConnection {
        let tlsContext = url.isSecure ? try tls.makeContext() : nil
        let address = try? SocketAddress(ipAddress: url.host, port: url.port)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(connectTimeout.clampedNanoseconds))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tlsContext, serverHostname: address == nil ? url.host : nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(ProbeHandler(sentAt: .now))
                }
            }
        let channel = try await (address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: url.host, port: url.port)).get()
        let handler =
            try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: ProbeHandler.self), eventLoop: channel.eventLoop)
            }.get() as NIOLoopBound<ProbeHandler>
        do {
            try await channel.writeAndFlush(ByteBuffer(bytes: request)).get()
        } catch {
            try? await channel.close()
            throw error
        }
        return ProbeConnection(channel: channel, handler: handler)
    }

    /// Waits until `condition` holds for the transcript, the connection ends, or `limit` passes;
    /// returns the transcript as it is then.
    func wait(for limit: Duration, until condition: @escaping @Sendable (ProbeTranscript) -> Bool) async -> ProbeTranscript {
        let handler = self.handler
        let loop = channel.eventLoop
        let future = loop.flatSubmit { handler.value.waitUntil(condition, limit: limit, on: loop) }
        if let transcript = try? await future.get() { return transcript }
        return (try? await transcript()) ?? ProbeTranscript(sentAt: .now)
    }

    /// The transcript as it is now.
    func transcript() async throws -> ProbeTranscript {
        let handler = self.handler
        return try await channel.eventLoop.submit { handler.value.transcript }.get()
    }

    /// From now on the transcript measures the longest silence between body bytes.
    func watchGaps() async {
        let handler = self.handler
        try? await channel.eventLoop.submit { handler.value.transcript.watchGaps(from: .now) }.get()
    }

    /// Leaves with an orderly close (FIN).
    func close() async {
        try? await channel.close()
    }

    /// Leaves abruptly: `SO_LINGER {1, 0}` then close, so the server sees a TCP reset.
    func reset() async {
        if let provider = channel as? SocketOptionProvider {
            _ = try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close()
    }
}

/// The probe's channel handler: feeds reads into the transcript and wakes a waiting check.
private final class ProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var transcript: ProbeTranscript
    private var waiter: (condition: @Sendable (ProbeTranscript) -> Bool, promise: EventLoopPromise<ProbeTranscript>, timer: Scheduled<Void>)?

    init(sentAt: ContinuousClock.Instant) {
        transcript = ProbeTranscript(sentAt: sentAt)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { transcript.received($0, at: .now) }
        wakeIfDone()
    }

    func channelInactive(context: ChannelHandlerContext) {
        transcript.ended("the server closed the connection", at: .now)
        wakeIfDone()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        transcript.ended("the connection failed: \(EventSourceClient.describeError(error))", at: .now)
        wakeIfDone()
        context.close(promise: nil)
    }

    func waitUntil(_ condition: @escaping @Sendable (ProbeTranscript) -> Bool, limit: Duration, on loop: EventLoop) -> EventLoopFuture<
        ProbeTranscript
    > {
        if let waiter {
            // One check waits at a time; a second wait ends the first.
            waiter.timer.cancel()
            waiter.promise.succeed(transcript)
            self.waiter = nil
        }
        if transcript.ending != nil || condition(transcript) { return loop.makeSucceededFuture(transcript) }
        let promise = loop.makePromise(of: ProbeTranscript.self)
        let this = NIOLoopBound(self, eventLoop: loop)
        let timer = loop.scheduleTask(in: .nanoseconds(limit.clampedNanoseconds)) {
            this.value.waiter = nil
            promise.succeed(this.value.transcript)
        }
        waiter = (condition, promise, timer)
        return promise.futureResult
    }

    private func wakeIfDone() {
        guard let waiter, transcript.ending != nil || waiter.condition(transcript) else { return }
        self.waiter = nil
        waiter.timer.cancel()
        waiter.promise.succeed(transcript)
    }
}
