import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS

/// Which HTTP the client speaks over https (plain http is always HTTP/1.1).
public enum HTTPVersionChoice: String, Sendable, Hashable, CaseIterable {
    /// HTTP/2 when the server offers it by ALPN, HTTP/1.1 otherwise.
    case any
    /// HTTP/1.1 only (`--http1.1`): ALPN offers http/1.1 alone.
    case http1
    /// HTTP/2 only (`--http2`): a server that does not choose h2 is a failed connection.
    case http2
}

/// The one way the client opens a connection for a request: TCP, then TLS when the URL is https,
/// then, when ALPN chose h2, an HTTP/2 connection with one stream for the request. Either way the
/// caller gets a byte channel speaking HTTP/1.1 (the stream behind `HTTP2ClientStreamAdapter`), so
/// one request writer and one response reader serve both versions.
enum ClientTransport {
    /// Thrown when `--http2` was asked and the server chose another protocol.
    struct HTTP2NotOffered: Error, CustomStringConvertible {
        let chosen: String
        var description: String { "the server does not offer HTTP/2 (ALPN chose \(chosen)); drop --http2 or use --http1.1" }
    }

    /// Thrown when `--http2` is asked of a plain http URL.
    struct HTTP2NeedsTLS: Error, CustomStringConvertible {
        var description: String { "HTTP/2 is spoken over https only (ALPN); this URL is http" }
    }

    /// What a connection became: an HTTP/1.1 byte channel, or an HTTP/2 connection (ALPN chose h2).
    enum Negotiated: Sendable {
        case http1(NIOAsyncChannel<ByteBuffer, ByteBuffer>)
        case http2(HTTP2Connection)
    }

    /// A byte channel for one request to `url`: the connection itself over HTTP/1.1, or the one
    /// stream of a new HTTP/2 connection, which ends with the stream.
    static func connect(
        to url: HTTPURL, options: ClientOptions, group: EventLoopGroup
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        switch try await negotiate(to: url, options: options, group: group) {
        case .http1(let channel):
            return channel
        case .http2(let connection):
            let ready = connection.channel.eventLoop.makePromise(of: NIOAsyncChannel<ByteBuffer, ByteBuffer>.self)
            let readTimeout = options.readTimeout.map(options.timeScale.wall)
            connection.channel.eventLoop.execute { connection.openStream(readTimeout: readTimeout, endsConnection: true, ready: ready) }
            return try await ready.futureResult.get()
        }
    }

    /// Connects (TCP, then TLS for https) and speaks what ALPN chose.
    static func negotiate(to url: HTTPURL, options: ClientOptions, group: EventLoopGroup) async throws -> Negotiated {
        if options.httpVersion == .http2, !url.isSecure { throw HTTP2NeedsTLS() }
        let readTimeout = options.readTimeout.map(options.timeScale.wall)
        let tlsContext = url.isSecure ? try options.tls.makeContext(applicationProtocols: protocols(options.httpVersion)) : nil
        let serverName = url.host
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(options.connectTimeout.clampedNanoseconds))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            // Each read goes to the reader as soon as it is made, so that parsing keeps pace with
            // the socket instead of waiting for a batch; reads grow to `maximumReadSize` on a fast stream.
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelOption(.recvAllocator, value: readAllocator(upTo: options.maximumReadSize))
        if options.fixesLocalReceiveBuffer, LocalReceiveBuffer.isLocal(host: serverName), LocalReceiveBuffer.isGranted {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(LocalReceiveBuffer.size))
        }
        // An IP address literal is connected to as it is: no resolver, no name-service files read.
        let address = try? SocketAddress(ipAddress: serverName, port: url.port)
        let wantsHTTP2 = options.httpVersion == .http2
        let initialize: @Sendable (Channel) -> EventLoopFuture<EventLoopFuture<Negotiated>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                guard let tlsContext else {
                    if let readTimeout { try sync.addHandler(ReadTimeoutHandler(timeout: readTimeout)) }
                    return channel.eventLoop.makeSucceededFuture(.http1(try NIOAsyncChannel(wrappingChannelSynchronously: channel)))
                }
                try sync.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: address == nil ? serverName : nil))
                let ready = channel.eventLoop.makePromise(of: Negotiated.self)
                try sync.addHandler(
                    ApplicationProtocolNegotiationHandler { result in
                        channel.eventLoop.makeCompletedFuture {
                            switch result {
                            case .negotiated("h2"):
                                ready.succeed(.http2(try HTTP2Connection(speakingOn: channel)))
                            case .negotiated(let chosen) where wantsHTTP2:
                                throw HTTP2NotOffered(chosen: chosen)
                            case .fallback where wantsHTTP2:
                                throw HTTP2NotOffered(chosen: "nothing")
                            default:
                                if let readTimeout { try channel.pipeline.syncOperations.addHandler(ReadTimeoutHandler(timeout: readTimeout)) }
                                ready.succeed(.http1(try NIOAsyncChannel(wrappingChannelSynchronously: channel)))
                            }
                        }.flatMapErrorThrowing { error in
                            ready.fail(error)
                            channel.close(promise: nil)
                            throw error
                        }
                    })
                // A handshake that fails never reaches the negotiation: its error (or the close) ends the wait.
                try sync.addHandler(FailureRelay(promise: ready))
                channel.closeFuture.whenComplete { _ in ready.fail(ChannelError.ioOnClosedChannel) }
                return ready.futureResult
            }
        }
        let made: EventLoopFuture<Negotiated>
        if let address {
            made = try await bootstrap.connect(to: address, channelInitializer: initialize)
        } else {
            made = try await bootstrap.connect(host: serverName, port: url.port, channelInitializer: initialize)
        }
        return try await made.get()
    }

    /// Reads that start at 2 KiB and grow to `maximumReadSize` (never below the start).
    private static func readAllocator(upTo maximumReadSize: Int) -> AdaptiveRecvByteBufferAllocator {
        let firstRead = 2048
        return AdaptiveRecvByteBufferAllocator(minimum: 64, initial: firstRead, maximum: max(firstRead, maximumReadSize))
    }

    private static func protocols(_ choice: HTTPVersionChoice) -> [String] {
        switch choice {
        case .any: ["h2", "http/1.1"]
        case .http1: ["http/1.1"]
        case .http2: ["h2"]
        }
    }

}

/// An HTTP/2 connection of the client's, on which each request is a stream presented as an
/// HTTP/1.1 byte channel (`HTTP2ClientStreamAdapter`): `ClientTransport` opens one stream per
/// connection; a load or a test opens many on one.
package struct HTTP2Connection: Sendable {
    package let channel: Channel
    private let multiplexer: NIOHTTP2Handler.StreamMultiplexer

    /// Adds HTTP/2 (client side) to `channel`, whose TLS chose h2; on its event loop.
    init(speakingOn channel: Channel) throws {
        // Event streams are long and read as they come: large windows (as browsers give) keep the
        // server from waiting on us; a stream whose reader stops still stops at its own window.
        var streams = NIOHTTP2Handler.StreamConfiguration()
        streams.targetWindowSize = 1 << 20
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.targetWindowSize = 8 << 20
        self.channel = channel
        self.multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: connection, streamConfiguration: streams
        ) { stream in stream.close() }
    }

    /// Connects to `url` (https) and speaks HTTP/2, or fails when the server does not choose h2.
    package static func connect(to url: HTTPURL, options: ClientOptions, group: EventLoopGroup) async throws -> HTTP2Connection {
        var options = options
        options.httpVersion = .http2
        switch try await ClientTransport.negotiate(to: url, options: options, group: group) {
        case .http2(let connection): return connection
        case .http1(let channel):
            try? await channel.channel.close()
            throw ClientTransport.HTTP2NotOffered(chosen: "http/1.1")
        }
    }

    /// A new stream, as a byte channel speaking HTTP/1.1.
    package func openStream(readTimeout: Duration? = nil) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let ready = channel.eventLoop.makePromise(of: NIOAsyncChannel<ByteBuffer, ByteBuffer>.self)
        channel.eventLoop.execute { openStream(readTimeout: readTimeout, endsConnection: false, ready: ready) }
        return try await ready.futureResult.get()
    }

    /// A new stream whose pipeline, after the HTTP/1.1 byte adapter, is what `configure` adds (a
    /// load subscriber's reader); the stream channel, once active.
    package func openStream(configuring configure: @escaping @Sendable (Channel) throws -> Void) async throws -> Channel {
        let ready = channel.eventLoop.makePromise(of: Channel.self)
        channel.eventLoop.execute { createStream(promise: ready, configure) }
        return try await ready.futureResult.get()
    }

    /// A new stream as a byte channel for `ready`; with `endsConnection`, its end closes the connection.
    func openStream(readTimeout: Duration?, endsConnection: Bool, ready: EventLoopPromise<NIOAsyncChannel<ByteBuffer, ByteBuffer>>) {
        let connection = channel
        let created = channel.eventLoop.makePromise(of: Channel.self)
        created.futureResult.whenFailure { ready.fail($0) }
        createStream(promise: created) { stream in
            if let readTimeout { try stream.pipeline.syncOperations.addHandler(ReadTimeoutHandler(timeout: readTimeout)) }
            if endsConnection { stream.closeFuture.whenComplete { _ in connection.close(promise: nil) } }
            ready.succeed(try NIOAsyncChannel(wrappingChannelSynchronously: stream))
        }
    }

    /// Creates a stream speaking HTTP/1.1 bytes (NIO's codec, then `HTTP2ClientStreamAdapter`), then
    /// what `configure` adds; on the connection's loop.
    private func createStream(promise: EventLoopPromise<Channel>, _ configure: @escaping @Sendable (Channel) throws -> Void) {
        multiplexer.createStreamChannel(promise: promise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .https))
                try stream.pipeline.syncOperations.addHandler(HTTP2ClientStreamAdapter())
                try configure(stream)
            }
        }
    }
}

extension TLSOptions {
    /// Adds TLS (HTTP/1.1 by ALPN) to a raw channel of the caller's own that connects to `url`; on
    /// the channel's loop, before it is active.
    package func addHandler(to channel: Channel, for url: HTTPURL, context: NIOSSLContext) throws {
        let isAddress = (try? SocketAddress(ipAddress: url.host, port: url.port)) != nil
        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : url.host))
    }
}

/// Fails the wait for a connection with the first error its pipeline meets (a TLS handshake that
/// failed says why), and passes every error on to the handlers after it.
private final class FailureRelay<Value: Sendable>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let promise: EventLoopPromise<Value>

    init(promise: EventLoopPromise<Value>) { self.promise = promise }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }
}
