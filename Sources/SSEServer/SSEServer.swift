import EventStream
import NIOCore
import NIOHTTP1
import NIOPosix
import ScriptClock

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The embedded SSE server: binds, serves streams, the listing and the viewer page, and exposes
/// publishing and fault injection to Swift callers (the REPL, scripts, `drip serve`).
///
/// Invariants: all state lives on one event loop of a one-thread group the server owns, so every
/// operation is ordered with the traffic it affects; `start` succeeds at most once, and `stop` closes
/// every connection cleanly before releasing the thread. Safe to call from any task.
public final class SSEServer: Sendable {
    public let configuration: ServerConfiguration
    /// Divides every timer the server runs (heartbeats, idle timeouts, stalls, delays, chunk intervals).
    public let timeScale: TimeScale
    private let group: MultiThreadedEventLoopGroup
    private let eventLoop: EventLoop
    private let core: NIOLoopBoundBox<ServerCore>
    /// The acceptor while the server is started.
    private let listener: NIOLoopBoundBox<Acceptor?>
    private let log: @Sendable (ServerLogEntry) -> Void

    public init(
        configuration: ServerConfiguration = ServerConfiguration(), timeScale: TimeScale = TimeScale(),
        log: @escaping @Sendable (ServerLogEntry) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.timeScale = timeScale
        self.log = log
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.eventLoop = group.next()
        self.core = .makeBoxSendingValue(
            ServerCore(eventLoop: eventLoop, configuration: configuration, timeScale: timeScale, log: log), eventLoop: eventLoop)
        self.listener = .makeEmptyBox(valueType: Acceptor.self, eventLoop: eventLoop)
    }

    /// Binds and starts serving; returns the bound address (with the real port when 0 was asked).
    @discardableResult
    public func start() async throws(ServerError) -> SocketAddress {
        let core = self.core
        let address = "\(configuration.host):\(configuration.port)"
        if configuration.token?.isEmpty == true {
            // An empty token (an unset variable: --token "$UNSET") would protect nothing while looking as if it did.
            throw .invalidConfiguration("the token is empty; give a token, or none to serve without one")
        }
        let listening: (descriptor: CInt, address: SocketAddress)
        do {
            listening = try ListeningSocket.bind(host: configuration.host, port: configuration.port, backlog: 1024)
        } catch {
            throw .bindFailed(address: address, reason: Self.describeBindError(error))
        }
        do {
            let yield = try await LoopYield.make(on: eventLoop).get()
            try await eventLoop.submit { if core.value.loopYield == nil { core.value.loopYield = yield.value } }.get()
        } catch {
            ListeningSocket.close(listening.descriptor)
            throw .bindFailed(address: address, reason: "the event loop could not be set up: \(error)")
        }
        let secure = configuration.tls != nil
        let acceptor: Acceptor
        do {
            let tlsContext = try configuration.tls?.makeContext()
            acceptor = try Acceptor(
                listening: listening.descriptor, eventLoop: eventLoop, log: log,
                adopt: Self.adoptConnection(on: eventLoop, core: core, limits: configuration.limits, tls: tlsContext))
        } catch {
            ListeningSocket.close(listening.descriptor)
            throw .bindFailed(address: address, reason: Self.describeBindError(error))
        }
        let listener = self.listener
        let started = try? await eventLoop.submit { () -> Bool in
            guard listener.value == nil else { return false }
            listener.value = acceptor
            return true
        }.get()
        guard started == true else {
            await acceptor.stop()
            throw .bindFailed(address: address, reason: started == false ? "the server is already started" : "the server was stopped")
        }
        let local = listening.address
        core.eventLoop.execute { core.value.log(.listening(url: Self.url(for: local, secure: secure))) }
        return local
    }

    /// The `http://host:port` URL of a bound address (`https://` when `secure`).
    public static func url(for address: SocketAddress, secure: Bool = false) -> String {
        let host = address.ipAddress ?? "127.0.0.1"
        let port = address.port ?? 0
        let scheme = secure ? "https" : "http"
        return address.protocol == .inet6 ? "\(scheme)://[\(host)]:\(port)" : "\(scheme)://\(host):\(port)"
    }

    /// Ends every stream cleanly, closes every connection and the listener, and releases the thread.
    public func stop() async {
        let core = self.core
        let listener = self.listener
        let acceptor = try? await eventLoop.submit { () -> Acceptor? in
            defer { listener.value = nil }
            return listener.value
        }.get()
        if let acceptor {
            await acceptor.stop()
            let closed = eventLoop.flatSubmit { core.value.closeEverything().map { core.value.log(.stopped) } }
            try? await closed.get()
        }
        try? await group.shutdownGracefully()
    }

    // MARK: Operations, each run on the server's loop

    func onLoop<T: Sendable>(_ body: @escaping @Sendable (ServerCore) throws(ServerError) -> T) async throws(ServerError) -> T {
        let core = self.core
        let result: Result<T, ServerError>
        do {
            result = try await eventLoop.submit { () -> Result<T, ServerError> in
                do throws(ServerError) { return .success(try body(core.value)) } catch { return .failure(error) }
            }.get()
        } catch {
            throw .notRunning
        }
        return try result.get()
    }

    /// Publishes `event` to `stream` (or one client of it). An id of `auto` takes the next counter value.
    @discardableResult
    public func publish(stream: String, event: ServerSentEvent, to client: Int? = nil) async throws(ServerError) -> PublishReceipt {
        try await onLoop { (core) throws(ServerError) in try core.publish(stream: stream, event: event, to: client, keep: true) }
    }

    /// Publishes one entry of the workbench's timeline (a JSON object) to the viewers of `GET /timeline`.
    public func publishTimeline(_ json: String) {
        let core = self.core
        core.eventLoop.execute { core.value.publishTimeline(json) }
    }

    /// Sends a comment line to `stream` (or one client of it); returns how many clients got it.
    @discardableResult
    public func comment(stream: String, text: String, to client: Int? = nil) async throws(ServerError) -> Int {
        try await onLoop { (core) throws(ServerError) in try core.comment(stream: stream, text: text, to: client) }
    }

    /// Changes a stream's settings (creating the stream) and returns them.
    @discardableResult
    public func configure(
        stream: String, _ update: @escaping @Sendable (inout StreamSettings) -> Void
    ) async throws(ServerError) -> StreamSettings {
        try await onLoop { (core) throws(ServerError) in try core.configure(stream: stream, update) }
    }

    /// Closes the connections of `audience` on purpose; returns how many.
    @discardableResult
    public func drop(_ audience: Audience, mode: DropMode = .clean) async throws(ServerError) -> Int {
        try await onLoop { (core) throws(ServerError) in try core.drop(audience, mode: mode) }
    }

    /// Holds every write to `audience` for `duration` (heartbeats too), then sends what was held.
    @discardableResult
    public func stall(_ audience: Audience, for duration: Duration) async throws(ServerError) -> Int {
        let amount = TimeAmount(timeScale.wall(duration))
        return try await onLoop { (core) throws(ServerError) in try core.pace(audience) { $0.stalledUntil = .now() + amount } }
    }

    /// Delays every frame to `audience` by `delay`; nil or zero removes the delay.
    @discardableResult
    public func delay(_ audience: Audience, by delay: Duration?) async throws(ServerError) -> Int {
        let amount = delay.map { TimeAmount(timeScale.wall($0)) }
        return try await onLoop { (core) throws(ServerError) in try core.pace(audience) { $0.delay = amount == .zero ? nil : amount } }
    }

    /// Writes frames to `audience` in pieces of `size` bytes, `interval` apart; nil size writes whole frames again.
    @discardableResult
    public func chunk(_ audience: Audience, size: Int?, interval: Duration = .milliseconds(10)) async throws(ServerError) -> Int {
        let interval = TimeAmount(timeScale.wall(interval))
        return try await onLoop { core throws(ServerError) in
            try core.pace(audience) {
                $0.chunkSize = size.map { max(1, $0) }
                $0.chunkInterval = interval
            }
        }
    }

    /// Corrupts the next event sent to `audience` (every client of a stream, or one client).
    public func corrupt(_ audience: Audience, _ corruption: Corruption) async throws(ServerError) {
        if case .longLine(let size) = corruption, !(1...Corruption.maxLongLine).contains(size) {
            throw .outOfRange("a long line of \(size) bytes is outside 1 byte to \(Corruption.maxLongLine >> 20) MiB")
        }
        try await onLoop { core throws(ServerError) in
            switch audience {
            case .stream(let name):
                try StreamName.validate(name)
                try core.stream(named: name, keep: true).corruptions.append(corruption)
            case .client(let id):
                guard let subscriber = core.subscribers[id] else { throw .noSuchClient(id) }
                subscriber.corruptions.append(corruption)
            }
        }
    }

    /// Answers the next `count` connections to `stream` with `rejection` instead of subscribing them.
    public func reject(stream: String, _ rejection: Rejection, count: Int = 1) async throws(ServerError) {
        guard (1...Rejection.maxCount).contains(count) else {
            throw .outOfRange("count=\(count) is outside 1 to \(Rejection.maxCount) connections")
        }
        let rejection = try rejection.validated()
        try await onLoop { core throws(ServerError) in
            try StreamName.validate(stream)
            try core.stream(named: stream, keep: true).rejections.append((rejection, count))
        }
    }

    /// Removes every fault set on `audience`: pacing, pending corruptions and, for a stream, rejections.
    public func clearFaults(_ audience: Audience) async throws(ServerError) {
        try await onLoop { core throws(ServerError) in
            switch audience {
            case .stream(let name):
                try StreamName.validate(name)
                guard let stream = core.streams[name] else { return }
                stream.pacing = Pacing()
                stream.corruptions.removeAll()
                stream.rejections.removeAll()
                stream.subscribers.forEach { $0.pump() }
            case .client(let id):
                guard let subscriber = core.subscribers[id] else { throw .noSuchClient(id) }
                subscriber.pacing = Pacing()
                subscriber.corruptions.removeAll()
                subscriber.pump()
            }
        }
    }

    /// The events a stream keeps for resumption, oldest first (empty for an unknown stream).
    public func history(stream: String) async throws(ServerError) -> [ServerSentEvent] {
        try await onLoop { core in core.streams[stream]?.history.map(\.event) ?? [] }
    }

    /// The streams and their clients, as they are now.
    public func snapshot() async throws(ServerError) -> ServerSnapshot {
        try await onLoop { $0.snapshot() }
    }

    #if os(Linux)
        static let deadPeerTimeoutOption = ChannelOptions.Types.SocketOption.tcpOption(.init(rawValue: CInt(TCP_USER_TIMEOUT)))
        static func deadPeerTimeoutValue(_ limits: ServerLimits) -> SocketOptionValue {
            SocketOptionValue(clamping: max(0, limits.deadPeerTimeoutMilliseconds))
        }
    #else
        // Elsewhere a harmless option in its place: TCP_NODELAY, already set.
        static let deadPeerTimeoutOption = ChannelOptions.Types.SocketOption.tcpOption(.tcp_nodelay)
        static func deadPeerTimeoutValue(_ limits: ServerLimits) -> SocketOptionValue { 1 }
    #endif

    private static func describeBindError(_ error: Error) -> String {
        if let ioError = error as? IOError, ioError.errnoCode == EADDRINUSE { return "the address is already in use" }
        if let ioError = error as? IOError, ioError.errnoCode == EACCES { return "permission denied" }
        if let ioError = error as? IOError, ioError.errnoCode == EADDRNOTAVAIL { return "no such local address" }
        if error is SocketAddressError.UnknownHost { return "the host name does not resolve" }
        return String(describing: error)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        self = .nanoseconds(duration.clampedNanoseconds)
    }
}
