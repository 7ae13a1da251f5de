import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS

/// How an accepted connection becomes a NIO channel: plain HTTP/1.1 (where subscribers may write
/// to the socket directly), or TLS with ALPN choosing HTTP/2 (one `HTTPConnectionHandler` per
/// stream, behind `HTTP2StreamAdapter`) or HTTP/1.1. TLS and HTTP/2 connections always write
/// through the pipeline (`SocketWriter.pipeline`): the direct write would skip encryption and framing.
extension SSEServer {
    /// The most streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    public static let maxStreamsPerConnection = 100

    /// Makes a NIO channel of an accepted connection's descriptor, serving HTTP on `core`'s loop.
    static func adoptConnection(
        on eventLoop: EventLoop, core: NIOLoopBoundBox<ServerCore>, limits: ServerLimits, tls: NIOSSLContext?
    ) -> Acceptor.Adopt {
        { descriptor in
            // The acceptor made the descriptor non-blocking, so NIO's own fcntl on it cannot fail and
            // the new channel owns it from here: a failure below (an option, a handler, registering)
            // is met by NIO closing the channel and with it the descriptor, which must not be closed
            // twice. The failure is logged; the client sees its connection closed.
            ClientBootstrap(group: eventLoop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelOption(.writeBufferWaterMark, value: .init(low: limits.maxQueuedBytes / 2, high: limits.maxQueuedBytes))
                .channelOption(.allowRemoteHalfClosure, value: false)
                .channelOption(deadPeerTimeoutOption, value: deadPeerTimeoutValue(limits))
                // Reads start small: NIO keeps each connection's last read buffer for its next read,
                // so an idle subscriber holds 256 bytes rather than NIO's 2 KiB. A longer request
                // head takes another read; larger reads (a publish body) grow the buffer as needed.
                .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 64 << 10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        guard let tls else {
                            try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                            let writer = SocketWriter.forAcceptedConnection(descriptor, writesDirectly: limits.writesDirectly)
                            try sync.addHandler(HTTPConnectionHandler(core: core, writer: writer))
                            return
                        }
                        try sync.addHandler(NIOSSLServerHandler(context: tls))
                        try sync.addHandler(FlushCoalescer())
                        try sync.addHandler(ConnectionGate(core: core))
                        try sync.addHandler(negotiation(core: core, limits: limits, channel: channel))
                    }
                }
                .withConnectedSocket(descriptor)
                .whenFailure { error in
                    core.value.log(.connectionSetupFailed(reason: "\(error)"))
                }
        }
    }

    /// Serves HTTP/2 when the client chose `h2` by ALPN, HTTP/1.1 otherwise.
    private static func negotiation(core: NIOLoopBoundBox<ServerCore>, limits: ServerLimits, channel: Channel)
        -> ApplicationProtocolNegotiationHandler
    {
        ApplicationProtocolNegotiationHandler { result in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                guard case .negotiated("h2") = result else {
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(
                        HTTPConnectionHandler(
                            core: core, writer: .pipeline, countsConnection: false,
                            transport: Transport(httpVersion: "1.1", isSecure: true, http2StreamID: nil)))
                    return
                }
                var connection = NIOHTTP2Handler.ConnectionConfiguration()
                connection.initialSettings = [
                    HTTP2Setting(parameter: .maxConcurrentStreams, value: maxStreamsPerConnection),
                    HTTP2Setting(parameter: .maxHeaderListSize, value: limits.maxHeaderSize),
                ]
                var streams = NIOHTTP2Handler.StreamConfiguration()
                // A stream whose reader stopped is bounded as a slow HTTP/1.1 reader is: past
                // maxQueuedBytes waiting (flow control holds them) it is no longer writable and is dropped.
                streams.outboundBufferSizeHighWatermark = limits.maxQueuedBytes
                streams.outboundBufferSizeLowWatermark = limits.maxQueuedBytes / 2
                _ = try sync.configureHTTP2Pipeline(mode: .server, connectionConfiguration: connection, streamConfiguration: streams) { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandlers([
                            HTTP2FramePayloadToHTTP1ServerCodec(),
                            HTTP2StreamAdapter(),
                            HTTPConnectionHandler(
                                core: core, writer: .pipeline, countsConnection: false,
                                transport: Transport(httpVersion: "2", isSecure: true, http2StreamID: nil)),
                        ])
                    }
                }
            }
        }
    }
}

/// Counts a TLS connection against `maxConnections` (its HTTP/2 streams or HTTP/1.1 requests are
/// not counted again), closes it at once when the server is full or stopping, and closes it when its
/// TLS handshake has not completed within the request head timeout (a connection that says nothing
/// holds a descriptor as long as it is let).
final class ConnectionGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let core: NIOLoopBoundBox<ServerCore>
    private var handshakeDeadline: Scheduled<Void>?

    init(core: NIOLoopBoundBox<ServerCore>) {
        self.core = core
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            handshakeDeadline?.cancel()
            handshakeDeadline = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func armHandshakeDeadline(_ context: ChannelHandlerContext) {
        let milliseconds = core.value.configuration.limits.requestHeadTimeoutMilliseconds
        guard milliseconds > 0 else { return }
        handshakeDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) { [core] in
            let remote = HTTPConnectionHandler.describe(context.channel.remoteAddress)
            core.value.log(.requestError(remote: remote, status: 408, reason: "no TLS handshake within \(milliseconds) ms; closed"))
            context.close(promise: nil)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        guard core.value.connectionOpened(context.channel) else {
            let server = core.value
            let reason = server.isStopping ? "the server is stopping" : "too many connections (limit \(server.configuration.limits.maxConnections))"
            server.log(.requestError(remote: HTTPConnectionHandler.describe(context.channel.remoteAddress), status: 503, reason: reason))
            context.close(promise: nil)
            return
        }
        armHandshakeDeadline(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeDeadline?.cancel()
        core.value.connectionClosed(context.channel)
        context.fireChannelInactive()
    }
}

/// Makes the flushes asked of a TLS connection within one turn of the event loop one flush, at the
/// end of the turn: a fan-out to a hundred HTTP/2 streams of one connection is then one TLS write
/// and one system call, not a hundred. Sits just above the TLS handler.
///
/// Invariant: whatever was written is flushed before the loop next waits for I/O, and before a close
/// passes (NIO fails writes still unflushed at a close).
final class FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny

    private var isFlushScheduled = false

    func flush(context: ChannelHandlerContext) {
        guard !isFlushScheduled else { return }
        isFlushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            guard isFlushScheduled else { return }
            isFlushScheduled = false
            context.flush()
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if isFlushScheduled {
            isFlushScheduled = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }
}
