import EventStream
import NIOCore
import NIOPosix
import NIOSSL
import ScriptClock
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything a client sees, in order.
public enum ClientEvent: Sendable, Hashable {
    /// A request is being sent; `lastEventId` is the `Last-Event-ID` it carries (nil: none).
    case connecting(url: String, method: String, lastEventId: String?)
    /// The response was accepted: the stream is open.
    case open(status: Int)
    /// A response that does not open the stream (an error status, a wrong content type): its status
    /// line, headers and the start of its body (at most `refusedBodyLimit` bytes, what came with the
    /// head) — usually the server's explanation. The `.reconnecting` or `.closed` that follows says what next.
    case refused(status: Int, reason: String, headers: [HTTPResponseReader.Head.Header], bodyStart: [UInt8])
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

extension ClientEvent {
    /// The most body bytes a `.refused` keeps.
    public static let refusedBodyLimit = 1024
    /// The reason of the `.reconnecting` after `ClientController.restart()`: asked for, not a failure.
    public static let restartedOnRequest = "restarted on request"
}

/// An `EventSource` over SwiftNIO that follows the spec's rules (see `EventSourceStateMachine`) and
/// reports everything it sees. One run is one source: it connects, reads, reconnects with
/// `Last-Event-ID`, and returns when the source closes; cancelling the task closes it.
public enum EventSourceClient {
    /// Runs the source until it closes, calling `handle` for each event in order, and `afterBatch`
    /// after the events of one read (or one state change) — where a printer flushes; returns the final `.closed`.
    @discardableResult
    public static func run(
        _ options: ClientOptions,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        controller: ClientController = ClientController(),
        afterBatch: () async -> Void = {},
        handle: (ClientEvent) async -> Void
    ) async -> ClientEvent {
        await run(options, reading: .events, group: group, sleep: sleep, controller: controller) { batch in
            for event in batch.events { await handle(event) }
            await afterBatch()
        }
    }

    /// Runs the source like `run`, but what the stream says — events, retries, and comments when
    /// `comments` is set — arrives as lines of `form` (JSON in `EventJSONLine`'s form, or the text
    /// `drip connect` prints), encoded straight from the bytes read
    /// (`EventStreamParser.parse(_:appending:to:)`): `drip connect` without a string per event.
    /// `lines` gets each read's lines after `handle` got the state changes that came before them
    /// (an `open`); `.raw` is never reported.
    @discardableResult
    public static func runEncodingLines(
        _ options: ClientOptions,
        form: EventStreamParser.LineForm,
        comments: Bool,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        controller: ClientController = ClientController(),
        handle: (ClientEvent) async -> Void,
        lines: ([UInt8]) async -> Void
    ) async -> ClientEvent {
        await run(options, reading: .lines(form, comments: comments), group: group, sleep: sleep, controller: controller) { batch in
            for event in batch.events { await handle(event) }
            if !batch.lines.isEmpty { await lines(batch.lines) }
        }
    }

    /// What a run hands over from the stream.
    private enum Reading {
        case events
        case lines(EventStreamParser.LineForm, comments: Bool)
    }

    /// What one read (or one state change) produced: `events` happened before `lines`.
    private struct Batch {
        var events: [ClientEvent] = []
        var lines: [UInt8] = []
    }

    private static func run(
        _ options: ClientOptions,
        reading: Reading,
        group: EventLoopGroup,
        sleep: @Sendable (Duration) async throws -> Void,
        controller: ClientController,
        handle: (Batch) async -> Void
    ) async -> ClientEvent {
        var machine = EventSourceStateMachine(
            url: options.request.url, method: options.request.method, policy: options.policy, reconnects: options.reconnects,
            retriesInitialConnection: options.retriesInitialConnection, reconnectionTime: options.initialReconnectionTime)
        machine.allowsInsecureRedirects = options.allowsInsecureRedirects
        var reportsComments = true
        var form = EventStreamParser.Form.events
        if case .lines(_, let comments) = reading {
            reportsComments = comments
            form = .bytes
        }
        var parser = EventStreamParser(
            form: form, limits: options.limits, reportsComments: reportsComments, lastEventId: options.request.lastEventId)
        var random = SystemRandomNumberGenerator()
        var action = machine.start()
        while true {
            switch action {
            case .connect(let request):
                let lastEventId = parser.lastEventId
                await handle(
                    Batch(events: [
                        .connecting(url: request.url.description, method: request.method, lastEventId: lastEventId.isEmpty ? nil : lastEventId)
                    ]))
                let outcome = await attempt(
                    request, options: options, reading: reading, lastEventId: lastEventId, group: group, controller: controller, machine: &machine,
                    parser: &parser, handle: handle)
                parser.endOfStream()
                switch outcome {
                case .next(let next): action = next
                case .lost(let reason): action = machine.connectionLost(reason: reason, using: &random)
                case .cancelled: action = machine.userClosed()
                }
            case .open:
                action = .closed(reason: "internal: open outside a connection", isFailure: true)
            case .wait(let delay, let reason):
                await handle(Batch(events: [.reconnecting(after: delay, reason: reason)]))
                do {
                    try await sleep(options.timeScale.wall(delay))
                    action = machine.reconnect()
                } catch {
                    action = machine.userClosed()
                }
            case .closed(let reason, let isFailure):
                let closed = ClientEvent.closed(reason: reason, isFailure: isFailure)
                await handle(Batch(events: [closed]))
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
        reading: Reading,
        lastEventId: String,
        group: EventLoopGroup,
        controller: ClientController,
        machine: inout EventSourceStateMachine,
        parser: inout EventStreamParser,
        handle: (Batch) async -> Void
    ) async -> Outcome {
        if Task.isCancelled { return .cancelled }
        let bytes: [UInt8]
        do {
            bytes = try options.request.serialized(
                url: request.url, method: request.method, sendsBody: request.sendsBody, lastEventId: lastEventId,
                sendsCredentials: request.sendsCredentials)
        } catch {
            return .next(machine.fail("cannot send the request: \(error)"))
        }
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientTransport.connect(to: request.url, options: options, group: group)
        } catch {
            return .lost("cannot connect to \(request.url.hostHeader): \(describe(error, host: request.url.host))")
        }
        controller.attach(channel.channel)
        defer { controller.detach() }
        var reader = HTTPResponseReader()
        var outcome = Outcome.lost("the server closed the connection")
        do {
            try await channel.executeThenClose { inbound, outbound in
                do {
                    try await outbound.write(ByteBuffer(bytes: bytes))
                } catch {
                    // The connection died before the request went out; the inbound side says why
                    // (a TLS handshake failure, a reset), which is what the user needs to see.
                    for try await _ in inbound {}
                    throw error
                }
                var isOpen = false
                var refused: (head: HTTPResponseReader.Head, body: [UInt8])?
                var batch = Batch()
                reading: for try await buffer in inbound {
                    var decision: Outcome?
                    // A framing error ends the connection, but only after what came before it in
                    // this read (an open, events) has been handed over.
                    let read = buffer.withUnsafeReadableBytes { raw in
                        Result { () throws(HTTPResponseReader.Failure) in
                            try reader.read(raw) { item in
                                if case .body(let range) = item, refused != nil, let head = refused?.head {
                                    let room = ClientEvent.refusedBodyLimit - (refused?.body.count ?? 0)
                                    refused = (head, (refused?.body ?? []) + raw[range].prefix(max(0, room)))
                                    return
                                }
                                guard decision == nil else { return }
                                switch item {
                                case .head(let head):
                                    let action = machine.received(
                                        status: head.status, location: head.value(of: "Location"), contentType: head.value(of: "Content-Type"))
                                    if action == .open {
                                        isOpen = true
                                        batch.events.append(.open(status: head.status))
                                    } else {
                                        decision = .next(action)
                                        // A redirect is followed and a 204 is the server's "stop": neither is refused.
                                        if !(300...399).contains(head.status), head.status != 204 { refused = (head, []) }
                                    }
                                case .body(let range):
                                    guard isOpen else { return }
                                    let body = UnsafeRawBufferPointer(rebasing: raw[range])
                                    do throws(EventStreamError) {
                                        switch reading {
                                        case .events:
                                            if options.reportsRawBytes { batch.events.append(.raw(Array(body))) }
                                            try parser.parse(body) { output in
                                                switch output {
                                                case .event(let event): batch.events.append(.event(event))
                                                case .comment(let text): batch.events.append(.comment(text))
                                                case .retry(let milliseconds):
                                                    machine.retryChanged(milliseconds: milliseconds)
                                                    batch.events.append(.retry(milliseconds))
                                                }
                                            }
                                        case .lines(let form, _):
                                            let reconnectionTime = parser.reconnectionTime
                                            defer {
                                                if let changed = parser.reconnectionTime, changed != reconnectionTime {
                                                    machine.retryChanged(milliseconds: changed)
                                                }
                                            }
                                            try parser.parse(body, appending: form, to: &batch.lines)
                                        }
                                    } catch {
                                        decision = .next(machine.fail("the stream broke a limit at line \(error.line): \(error)"))
                                    }
                                case .end:
                                    if isOpen { decision = .lost("the server ended the stream") }
                                }
                            }
                        }
                    }
                    if decision == nil, case .failure(let malformed) = read { decision = .lost(describe(malformed)) }
                    if let (head, body) = refused {
                        batch.events.append(.refused(status: head.status, reason: head.reason, headers: head.headers, bodyStart: body))
                        refused = nil
                    }
                    if !batch.events.isEmpty || !batch.lines.isEmpty {
                        await handle(batch)
                        // Emptied, not kept: the parser writes the next read's lines into a new array.
                        batch = Batch()
                    }
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
            outcome = .lost(describe(error, host: request.url.host))
        }
        if controller.takeRestartRequest() { outcome = .lost(ClientEvent.restartedOnRequest) }
        if Task.isCancelled { return .cancelled }
        return outcome
    }

    /// One line for what went wrong on a connection.
    public static func describeError(_ error: Error) -> String { describe(error) }

    /// One line for `error`; `host` (the URL's) names what a certificate failed to match.
    static func describe(_ error: Error, host: String? = nil) -> String {
        if error is ReadTimeoutHandler.Timeout { return "no data within the read timeout" }
        if let host, let tlsError = error as? NIOSSLExtraError, tlsError == .failedToValidateHostname {
            let what = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? "the host name" : "the IP address"
            return "TLS failed: the server's certificate is not for \(what) \(host) (not among its subject alternative names)"
        }
        if let tlsError = error as? NIOSSLError {
            if "\(tlsError)".contains("CERTIFICATE_VERIFY_FAILED") {
                return "TLS failed: the server's certificate is not trusted (self-signed, or an unknown issuer); "
                    + "trust it with --cacert FILE (cacert= in a script), or skip the check with --insecure"
            }
            return "TLS failed: \(tlsError)"
        }
        if let tlsError = error as? BoringSSLError { return "TLS failed: \(tlsError)" }
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
        if let channelError = error as? ChannelError, channelError == .ioOnClosedChannel || channelError == .alreadyClosed {
            return "the connection closed before the request was sent"
        }
        return String(describing: error)
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
        self.timeout = .nanoseconds(timeout.clampedNanoseconds)
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

/// Lets another task restart a running client: the current connection is closed and the client
/// reconnects as after any lost connection.
public final class ClientController: Sendable {
    private let state = Mutex<(channel: Channel?, restartRequested: Bool)>((nil, false))

    public init() {}

    /// Closes the current connection; the client reconnects after its reconnection time.
    public func restart() {
        let channel = state.withLock { state -> Channel? in
            state.restartRequested = true
            return state.channel
        }
        channel?.close(promise: nil)
    }

    /// The local end of the current connection (nil between connections): how the workbench tells
    /// which of a server's connections is this client's.
    public var localAddress: (ip: String, port: Int)? {
        guard let address = state.withLock({ $0.channel })?.localAddress, let ip = address.ipAddress, let port = address.port else { return nil }
        return (ip, port)
    }

    func attach(_ channel: Channel) { state.withLock { $0.channel = channel } }
    func detach() { state.withLock { $0.channel = nil } }

    func takeRestartRequest() -> Bool {
        state.withLock { state in
            defer { state.restartRequested = false }
            return state.restartRequested
        }
    }
}

/// How the client trusts https servers: the system's trust store, extra certificates (PEM), or
/// (loudly) nothing at all.
public struct TLSOptions: Sendable {
    /// PEM files whose certificates are trusted in addition to the system's.
    public var trustedCertificateFiles: [String]
    /// Whether to trust the system's certificate store.
    public var usesSystemTrustRoots: Bool
    /// Skip certificate verification altogether (`--insecure`).
    public var verifiesCertificates: Bool
    /// Certificates trusted in addition (the workbench's own server's, made at start).
    public var trustedCertificates: [NIOSSLCertificate] = []

    public init(trustedCertificateFiles: [String] = [], usesSystemTrustRoots: Bool = true, verifiesCertificates: Bool = true) {
        self.trustedCertificateFiles = trustedCertificateFiles
        self.usesSystemTrustRoots = usesSystemTrustRoots
        self.verifiesCertificates = verifiesCertificates
    }

    /// The TLS context these options describe, for a connection of the caller's own (the proxy's
    /// upstream); `applicationProtocols` are offered by ALPN (none: no ALPN, HTTP/1.1 implied).
    public func makeContext(applicationProtocols: [String] = []) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = applicationProtocols
        if !verifiesCertificates {
            configuration.certificateVerification = .none
        } else if !trustedCertificateFiles.isEmpty || !trustedCertificates.isEmpty {
            var certificates = trustedCertificates
            for path in trustedCertificateFiles { certificates += try NIOSSLCertificate.fromPEMFile(path) }
            configuration.trustRoots = usesSystemTrustRoots ? .default : .certificates(certificates)
            if usesSystemTrustRoots { configuration.additionalTrustRoots = [.certificates(certificates)] }
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
