import EventStream
import NIOCore
import NIOPosix
import NIOSSL
import SSEClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a load's connections are made: plain http, HTTP/1.1 over TLS (one connection each), or
/// streams spread over a few HTTP/2 connections (`--http2 --connections M`).
struct LoadTransport: Sendable {
    let tls: NIOSSLContext?
    let tlsOptions: TLSOptions
    let http2: [HTTP2Connection]
    var sources: SourceAddresses?
    /// The time a connection, and then its response head, may take (`LoadOptions.connectTimeout`).
    var connectTimeout: Duration = .seconds(10)

    static let plain = LoadTransport(tls: nil, tlsOptions: TLSOptions(), http2: [])

    /// Opens the HTTP/2 connections a run asks for, or makes the TLS context of an https URL.
    static func prepare(_ options: LoadOptions, group: EventLoopGroup) async throws -> LoadTransport {
        guard let count = options.http2Connections else {
            let tls = options.url.isSecure ? try options.tls.makeContext(applicationProtocols: ["http/1.1"]) : nil
            return LoadTransport(tls: tls, tlsOptions: options.tls, http2: [], sources: options.sources, connectTimeout: options.connectTimeout)
        }
        guard options.url.isSecure else { throw LoadError("--http2 needs an https URL (HTTP/2 is negotiated by TLS); \(options.url) is http") }
        var client = ClientOptions(request: ClientRequest(url: options.url))
        client.tls = options.tls
        var connections: [HTTP2Connection] = []
        for _ in 0..<count {
            do {
                connections.append(try await HTTP2Connection.connect(to: options.url, options: client, group: group))
            } catch {
                for connection in connections { connection.channel.close(promise: nil) }
                throw LoadError("cannot open an HTTP/2 connection to \(options.url.hostHeader): \(EventSourceClient.describeError(error))")
            }
        }
        return LoadTransport(tls: nil, tlsOptions: options.tls, http2: connections, connectTimeout: options.connectTimeout)
    }

    /// A channel speaking HTTP/1.1 bytes to `url`: a connection of its own, or stream `index`'s
    /// place among the HTTP/2 connections (round robin); `configure` adds the reader before the
    /// channel is active, so nothing the server sends at once (a refusal and a close) goes unread.
    func channel(
        to url: HTTPURL, group: EventLoopGroup, index: Int, configuring configure: @escaping @Sendable (Channel) throws -> Void
    ) async throws -> Channel {
        if !http2.isEmpty { return try await http2[index % http2.count].openStream(configuring: configure) }
        let (tls, tlsOptions) = (self.tls, self.tlsOptions)
        var bootstrap = ClientBootstrap(group: group)
        if let sources {
            let source = sources.address(for: index)
            do {
                bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0))
            } catch {
                throw LoadError("--source \(source) is not an address to connect from: \(error)")
            }
        }
        return
            try await bootstrap
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            // NIO keeps each connection's last read buffer for its next read: starting at 256 bytes
            // (not 2 KiB) keeps an idle subscriber small; a busy one's reads grow it as needed.
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 64 << 10))
            .connectTimeout(.nanoseconds(connectTimeout.clampedNanoseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try tlsOptions.addHandler(to: channel, for: url, context: tls) }
                    try configure(channel)
                }
            }
            .connect(host: url.host, port: url.port).get()
    }

    func close() {
        for connection in http2 { connection.channel.close(promise: nil) }
    }
}

/// Hands a handler made in a channel initializer (on the channel's loop) to the task that opened the
/// channel: a handler is added there so that nothing the peer sends at once goes unread, and a closed
/// channel's pipeline no longer holds it to look up.
final class HandlerSlot<Handler>: Sendable {
    private let stored = Mutex<NIOLoopBound<Handler>?>(nil)

    func keep(_ handler: Handler, on eventLoop: EventLoop) { stored.withLock { $0 = NIOLoopBound(handler, eventLoop: eventLoop) } }
    var handler: NIOLoopBound<Handler>? { stored.withLock { $0 } }
}

/// One open subscription of a load run.
struct Subscription: Sendable {
    let channel: Channel
    let handler: NIOLoopBound<LoadSubscriberHandler>
    let connectMilliseconds: Double

    static func open(
        _ url: HTTPURL, headers: [(name: String, value: String)], group: EventLoopGroup, highestSequence: Int,
        tally: DeliveryTally? = nil, fanOut: FanOutTables? = nil, vanishAfter plan: VanishPlan? = nil, transport: LoadTransport = .plain,
        index: Int = 0
    ) async throws -> Subscription {
        let request = try ClientRequest(url: url, headers: headers).serialized(url: url, method: "GET", sendsBody: false, lastEventId: "")
        let started = MonotonicTime.nanoseconds()
        let slot = HandlerSlot<LoadSubscriberHandler>()
        let headTimeout = transport.connectTimeout
        let channel = try await transport.channel(to: url, group: group, index: index) { channel in
            let handler = LoadSubscriberHandler(
                eventLoop: channel.eventLoop, highestSequence: highestSequence, tally: tally, fanOut: fanOut?.table(on: channel.eventLoop),
                vanishAfter: plan, headTimeout: headTimeout)
            try channel.pipeline.syncOperations.addHandler(handler)
            slot.keep(handler, on: channel.eventLoop)
        }
        guard let handler = slot.handler else { throw LoadError("internal: the subscriber's reader was not added") }
        let opened = try await channel.eventLoop.submit { () -> EventLoopFuture<Void> in
            // Written even when the server has already answered and closed: the write then fails
            // quietly, and `opened` holds the answer.
            channel.writeAndFlush(ByteBuffer(bytes: request), promise: nil)
            return handler.value.opened.futureResult
        }.get()
        do {
            try await opened.get()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        return Subscription(channel: channel, handler: handler, connectMilliseconds: Double(MonotonicTime.nanoseconds() - started) / 1e6)
    }

    func record() async throws -> SubscriberRecord {
        let handler = self.handler
        return try await channel.eventLoop.submit { handler.value.record }.get()
    }
}

/// Reads one subscription: checks the response head, parses the body, and records each event's
/// sequence number and latency.
final class LoadSubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let opened: EventLoopPromise<Void>
    /// Completes when the connection has closed, for whatever reason.
    let closed: EventLoopPromise<Void>
    private var response = HTTPResponseReader()
    private var parser = EventStreamParser(form: .bytes)
    private var seen: [UInt64] = []  // bitset of sequence numbers
    private var highest = 0
    private(set) var record = SubscriberRecord()
    private let vanishPlan: VanishPlan?

    /// The largest sequence number the publisher sends: larger ones (from some other publisher) are
    /// counted as received, not tracked, so a stray number cannot grow `seen` without bound.
    private let highestSequence: Int

    /// Where a steady subscriber counts what it got, for the run to see when delivery is complete.
    private let tally: DeliveryTally?
    /// Where a steady subscriber notes when each event reached it, on its loop's table.
    private let fanOut: FanOutTable?
    private var didOpen = false
    /// How long a connected subscriber waits for the response head before it counts as failed.
    private let headTimeout: Duration
    private var headDeadline: Scheduled<Void>?

    init(
        eventLoop: EventLoop, highestSequence: Int, tally: DeliveryTally?, fanOut: FanOutTable? = nil, vanishAfter plan: VanishPlan? = nil,
        headTimeout: Duration
    ) {
        self.fanOut = fanOut
        self.headTimeout = headTimeout
        self.highestSequence = highestSequence
        self.tally = tally
        opened = eventLoop.makePromise()
        closed = eventLoop.makePromise()
        vanishPlan = plan
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armHeadTimeout(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armHeadTimeout(context)
        context.fireChannelActive()
    }

    private func armHeadTimeout(_ context: ChannelHandlerContext) {
        guard headDeadline == nil, !didOpen else { return }
        let (opened, timeout) = (self.opened, headTimeout)
        headDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeout.clampedNanoseconds)) {
            opened.fail(LoadError("no response within \(DurationValue(clampingMilliseconds: timeout.clampedMilliseconds))"))
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let now = MonotonicTime.nanoseconds()
        let wallNow = WallTime.nanoseconds()
        do {
            try buffer.withUnsafeReadableBytes { bytes in
                try response.read(bytes) { event in
                    switch event {
                    case .head(let head):
                        headDeadline?.cancel()
                        let type = head.value(of: "Content-Type") ?? "(none)"
                        if head.status != 200 {
                            opened.fail(LoadError("HTTP \(head.status)"))
                        } else if !type.lowercased().hasPrefix("text/event-stream") {
                            opened.fail(LoadError("content type \(type)"))
                        } else {
                            didOpen = true
                            opened.succeed()
                        }
                    case .body(let range):
                        do {
                            try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[range])) { (event: EventStreamParser.BorrowedEvent) in
                                note(event.data, at: now, wall: wallNow)
                            }
                        } catch {
                            // A stream the subscriber cannot read on is a failure of its own, not events lost.
                            record.streamError = String(describing: error)
                            context.close(promise: nil)
                            return
                        }
                        if let vanishPlan, record.received >= vanishPlan.reads { vanish(context, resetting: vanishPlan.resets) }
                    case .end:
                        context.close(promise: nil)
                    }
                }
            }
        } catch {
            opened.fail(error)
            context.close(promise: nil)
        }
    }

    /// Counts one event read at `now` (monotonic) and `wall` (the wall clock its send time is on).
    private func note(_ data: UnsafeBufferPointer<UInt8>, at now: UInt64, wall: UInt64) {
        record.received += 1
        record.lastReceivedAt = now
        guard let (sequence, sentAt) = Self.sequenceAndTimestamp(data), sequence <= highestSequence else { return }
        // A send time ahead of this clock (another host's, not in step) gives no latency.
        let microseconds = sentAt <= wall ? UInt32(clamping: (wall - sentAt) / 1000) : nil
        if let microseconds { record.latencies.append(microseconds) }
        let word = sequence / 64
        if word >= seen.count { seen.append(contentsOf: repeatElement(0, count: word - seen.count + 1)) }
        let bit = UInt64(1) << UInt64(sequence % 64)
        if seen[word] & bit != 0 {
            record.duplicated += 1
        } else {
            seen[word] |= bit
            record.distinctSequences += 1
            tally?.noteDistinct()
            fanOut?.note(sequence: sequence, microseconds: microseconds ?? 0)
        }
        if sequence < highest { record.outOfOrder += 1 }
        highest = max(highest, sequence)
    }

    /// Reads `"seq":N` and `"t":T` from a load payload's bytes without a JSON parser.
    static func sequenceAndTimestamp(_ bytes: UnsafeBufferPointer<UInt8>) -> (Int, UInt64)? {
        guard let base = bytes.baseAddress else { return nil }
        var index = 0
        func number(after key: StaticString) -> UInt64? {
            let length = key.utf8CodeUnitCount
            while index + length <= bytes.count, memcmp(base + index, key.utf8Start, length) != 0 { index += 1 }
            index += length
            var value: UInt64 = 0
            var digits = 0
            while index < bytes.count, bytes[index] &- 48 < 10, digits < 19 {
                value = value &* 10 &+ UInt64(bytes[index] &- 48)
                index += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        guard let sequence = number(after: "\"seq\":"), sequence <= UInt64(Int.max), let sentAt = number(after: "\"t\":") else { return nil }
        return (Int(sequence), sentAt)
    }

    func channelInactive(context: ChannelHandlerContext) {
        headDeadline?.cancel()
        if !record.isClosed, didOpen { tally?.noteClosed(withDistinct: record.distinctSequences) }
        record.isClosed = true
        opened.fail(LoadError("the connection closed"))
        closed.succeed()
    }

    /// Goes away without an orderly end: a reset (SO_LINGER 0), or a close with unread data pending.
    private func vanish(_ context: ChannelHandlerContext, resetting: Bool) {
        guard context.channel.isActive else { return }
        if resetting, let provider = context.channel as? SocketOptionProvider {
            let channel = context.channel
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        opened.fail(error)
        context.close(promise: nil)
    }
}

/// The distinct events steady subscribers received, summed across event loops as they arrive, and
/// how many of those subscribers closed: enough to know that every open one has every event without
/// touching their records (on their loops).
final class DeliveryTally: Sendable {
    private let distinct = Atomic<Int>(0)
    private let closed = Atomic<Int>(0)

    func noteDistinct() { distinct.add(1, ordering: .relaxed) }

    /// A closed subscriber's events no longer count toward the total expected from the open ones.
    func noteClosed(withDistinct count: Int) {
        distinct.subtract(count, ordering: .relaxed)
        closed.add(1, ordering: .relaxed)
    }

    /// Whether each of `subscribers` still open has all `published` events (sequence numbers are
    /// distinct and at most `published`, so the sum reaches the product only then).
    func hasEverything(published: Int, subscribers: Int) -> Bool {
        let open = subscribers - closed.load(ordering: .relaxed)
        return distinct.load(ordering: .relaxed) >= published * open
    }
}
