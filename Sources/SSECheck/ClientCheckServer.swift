import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The listening side of `drip check client`: every request on any path goes to one
/// `ClientCheckMachine`, whose answer is written as it is and whose connection then ends as it says
/// (a close, or a reset after a pause). Requests are bounded: the head by NIO's decoder (80 KiB) and
/// by time (`RequestHandler.headTimeout`), a body is not kept; every answer ends its connection.
public final class ClientCheckServer: Sendable {
    private let machine: Mutex<ClientCheckMachine>
    private let group: EventLoopGroup
    private let channel: Mutex<Channel?> = Mutex(nil)

    public init(end: ClientCheckMachine.End, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        machine = Mutex(ClientCheckMachine(end: end))
        self.group = group
    }

    /// Listens on `host`:`port` (0: a free port); returns the port.
    public func start(host: String, port: Int) async throws -> Int {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(server: self))
                }
            }
        let listening = try await bootstrap.bind(host: host, port: port).get()
        channel.withLock { $0 = listening }
        return listening.localAddress?.port ?? port
    }

    public func stop() async {
        let listening = channel.withLock { channel -> Channel? in
            defer { channel = nil }
            return channel
        }
        try? await listening?.close()
    }

    /// Lets the machine act on the time (give up on a client, end the terminal watch); true when the run is over.
    public func tick(now: ContinuousClock.Instant = .now) -> Bool {
        machine.withLock {
            $0.tick(now: now)
            return $0.isFinished
        }
    }

    /// Ends the run now: every check not yet graded fails with `reason`.
    public func giveUp(_ reason: String) {
        machine.withLock { $0.giveUp(reason) }
    }

    /// The checks graded so far, in the order they were graded.
    public var results: [CheckResult] { machine.withLock { $0.results } }

    fileprivate func answer(_ request: ClientCheckMachine.Request) -> ClientCheckMachine.Answer {
        machine.withLock { $0.received(request, at: .now) }
    }

    fileprivate func answerEnded() {
        machine.withLock { $0.answerEnded(at: .now) }
    }
}

/// Takes each request head to the machine and ends the connection as the answer says.
private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    /// A connection that has not sent a whole request head by then is closed.
    static let headTimeout = TimeAmount.seconds(10)

    private let server: ClientCheckServer
    private var answered = false
    private var headTimer: Scheduled<Void>?

    init(server: ClientCheckServer) {
        self.server = server
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        headTimer = context.eventLoop.scheduleTask(in: Self.headTimeout) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        headTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data), !answered else { return }
        answered = true
        headTimer?.cancel()
        let request = ClientCheckMachine.Request(
            method: head.method.rawValue, target: head.uri, headers: head.headers.map { (name: $0.name, value: $0.value) })
        let answer = server.answer(request)
        let channel = context.channel
        let server = self.server
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: answer.bytes))).whenComplete { _ in
            switch answer.ending {
            case .close:
                channel.close(promise: nil)
                server.answerEnded()
            case .reset(let pause):
                channel.eventLoop.scheduleTask(in: .nanoseconds(pause.clampedNanoseconds)) {
                    if let provider = channel as? SocketOptionProvider {
                        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
                    } else {
                        channel.close(promise: nil)
                    }
                    server.answerEnded()
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
