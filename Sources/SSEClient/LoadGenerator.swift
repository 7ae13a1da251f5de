import EventStream
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `drip load` does: how many subscribers, how fast they connect, and what to publish.
public struct LoadOptions: Sendable {
    public var url: HTTPURL
    public var clients: Int
    /// Connections being opened at once; the rest wait their turn (a ramp that bounds the burst).
    public var connectConcurrency: Int
    /// When set, `events` events are POSTed here, each with a sequence number and a send timestamp.
    public var publishURL: HTTPURL?
    public var events: Int
    /// Events per second, within `rates`; nil publishes as fast as the server answers.
    public var rate: Double?
    /// The publishing rates taken (events per second); `init` brings a rate outside to the nearest bound.
    public static let rates: ClosedRange<Double> = 0.001...10_000_000
    /// Bytes of data per published event (at least the sequence number and timestamp).
    public var payloadSize: Int
    /// Publish requests in flight at once on the publisher's connection (HTTP/1.1 pipelining).
    public var pipeline: Int
    /// Without a publisher: how long to stay subscribed and count what arrives.
    public var duration: Duration
    /// With a publisher: how long to wait after the last publish for deliveries to complete.
    public var settleTimeout: Duration
    public var headers: [(name: String, value: String)]
    public var threads: Int
    /// While publishing: this many more connections that churn — each subscribes, reads a few
    /// events, then vanishes (a TCP reset, or a close without reading the rest), and is replaced at once.
    public var churners: Int
    /// The most events a churning connection reads before it vanishes (it picks 1 to this at random).
    public var churnReads: Int

    /// One event loop per core.
    public static var defaultThreads: Int { System.coreCount }

    public init(
        url: HTTPURL, clients: Int = 100, connectConcurrency: Int = 200, publishURL: HTTPURL? = nil, events: Int = 1000, rate: Double? = nil,
        payloadSize: Int = 100, pipeline: Int = 1, duration: Duration = .seconds(10), settleTimeout: Duration = .seconds(10),
        headers: [(name: String, value: String)] = [], threads: Int = LoadOptions.defaultThreads, churners: Int = 0, churnReads: Int = 20
    ) {
        self.churners = churners
        self.churnReads = max(1, churnReads)
        self.url = url
        self.clients = clients
        self.connectConcurrency = connectConcurrency
        self.publishURL = publishURL
        self.events = events
        self.rate = rate.map { $0.isNaN ? Self.rates.upperBound : min(max($0, Self.rates.lowerBound), Self.rates.upperBound) }
        self.payloadSize = payloadSize
        self.pipeline = pipeline
        self.duration = duration
        self.settleTimeout = settleTimeout
        self.headers = headers
        self.threads = threads
    }
}

/// What a load run measured. Latencies are from the publisher's send timestamp to the subscriber's
/// parse of the event, both on this process's monotonic clock.
public struct LoadReport: Sendable {
    public var subscribersConnected: Int
    public var connectFailures: [String: Int]
    public var connectMilliseconds: Percentiles
    public var published: Int
    public var publishSeconds: Double
    public var delivered: Int
    /// From the first publish to the last delivery (or the subscribed duration without a publisher).
    public var deliverySeconds: Double
    public var latencyMilliseconds: Percentiles
    /// Sequence numbers published but never delivered, summed over subscribers that stayed connected.
    public var lost: Int
    /// Subscribers whose stream broke the event-stream rules (an over-long line…), by the reason;
    /// they are closed and not counted in `lost`.
    public var streamErrors: [String: Int] = [:]
    public var duplicated: Int
    public var outOfOrder: Int
    public var disconnected: Int
    /// Churning connections that subscribed, read and vanished; and those that could not subscribe.
    public var churned: Int = 0
    public var churnFailures: Int = 0
    /// The most subscriptions this run held open at once (steady and churning).
    public var peakConnections: Int = 0

    public var deliveredPerSecond: Double { deliverySeconds > 0 ? Double(delivered) / deliverySeconds : 0 }
}

/// The 50th, 99th percentile and maximum of a set of samples.
public struct Percentiles: Sendable, Hashable {
    public var p50: Double
    public var p99: Double
    public var max: Double
    public var count: Int

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        count = sorted.count
        func at(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[Swift.min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
        }
        p50 = at(0.5)
        p99 = at(0.99)
        max = sorted.last ?? 0
    }
}

/// Opens many subscriptions at once on NIO (one event loop per thread), parses each with
/// `EventStreamParser`, optionally publishes numbered, timestamped events, and measures delivery.
///
/// Invariant: every per-subscriber record lives on that subscriber's event loop and is read back there.
public enum LoadGenerator {
    public static func run(_ options: LoadOptions, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> LoadReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        do {
            let report = try await run(options, group: group, progress: progress)
            try? await group.shutdownGracefully()
            return report
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func run(_ options: LoadOptions, group: EventLoopGroup, progress: @escaping @Sendable (String) -> Void) async throws -> LoadReport
    {
        progress("connecting \(options.clients) subscriber\(options.clients == 1 ? "" : "s") to \(options.url)")
        let tally = DeliveryTally()
        let subscriptions = await connectAll(options, group: group, tally: tally)
        let connected = subscriptions.compactMap { try? $0.get() }
        var failures: [String: Int] = [:]
        for case .failure(let error) in subscriptions { failures[String(describing: error), default: 0] += 1 }
        progress("\(connected.count) connected" + (failures.isEmpty ? "" : ", \(subscriptions.count - connected.count) failed"))

        var published = 0
        var publishSeconds = 0.0
        let started = Clock.nanoseconds()
        let churn = Churn(options: options, group: group, steady: connected.count)
        if let publishURL = options.publishURL, !connected.isEmpty || options.clients == 0 {
            let publisher = try await Publisher.connect(to: publishURL, headers: options.headers, group: group)
            let churning = Task { await churn.run() }
            defer { churning.cancel() }
            publishSeconds = try await publisher.publish(
                events: options.events, rate: options.rate, pipeline: options.pipeline, payloadSize: options.payloadSize
            ).get()
            published = max(0, options.events)
            publisher.close()
            churning.cancel()
            await churning.value
            if options.churners > 0 {
                progress("\(churn.cycles) churning connections subscribed, read and vanished (\(churn.failures) could not subscribe)")
            }
            progress("published \(published) events in \(format(publishSeconds)) s; waiting for deliveries")
            // Waiting reads only the shared tally: copying every record off its loop meanwhile would
            // delay the reading of the last events and so lengthen their latency.
            let deadline = Clock.nanoseconds() + UInt64(options.settleTimeout.clampedNanoseconds)
            while Clock.nanoseconds() < deadline, !tally.hasEverything(published: published, subscribers: connected.count) {
                try await Task.sleep(for: .milliseconds(5))
            }
        } else {
            progress("subscribed; counting events for \(options.duration)")
            try await Task.sleep(for: options.duration)
        }

        let records = try await gather(connected)
        for subscription in connected { subscription.channel.close(promise: nil) }
        let lastDelivery = records.map(\.lastReceivedAt).max() ?? Clock.nanoseconds()
        let deliverySeconds =
            options.publishURL == nil
            ? Double(Clock.nanoseconds() - started) / 1e9 : Double(max(lastDelivery, started) - started) / 1e9
        var lost = 0
        var latencies: [Double] = []
        for record in records {
            latencies += record.latencies.map { Double($0) / 1000 }
            if published > 0, !record.isClosed, record.streamError == nil { lost += max(0, published - record.distinctSequences) }
        }
        return LoadReport(
            subscribersConnected: connected.count,
            connectFailures: failures,
            connectMilliseconds: Percentiles(connected.map(\.connectMilliseconds)),
            published: published,
            publishSeconds: publishSeconds,
            delivered: records.reduce(0) { $0 + $1.received },
            deliverySeconds: deliverySeconds,
            latencyMilliseconds: Percentiles(latencies),
            lost: lost,
            streamErrors: records.compactMap(\.streamError).reduce(into: [:]) { $0[$1, default: 0] += 1 },
            duplicated: records.reduce(0) { $0 + $1.duplicated },
            outOfOrder: records.reduce(0) { $0 + $1.outOfOrder },
            disconnected: records.filter(\.isClosed).count,
            churned: churn.cycles,
            churnFailures: churn.failures,
            peakConnections: max(connected.count, churn.peak)
        )
    }

    /// `{"seq":N,"t":NANOSECONDS,"pad":"…"}`, padded to `size` bytes.
    static func payload(sequence: Int, size: Int) -> String {
        let head = "{\"seq\":\(sequence),\"t\":\(Clock.nanoseconds()),\"pad\":\""
        let padding = max(0, size - head.utf8.count - 2)
        return head + String(repeating: "x", count: padding) + "\"}"
    }

    private static func connectAll(_ options: LoadOptions, group: EventLoopGroup, tally: DeliveryTally) async -> [Result<Subscription, Error>] {
        await withTaskGroup(of: Result<Subscription, Error>.self) { tasks in
            var results: [Result<Subscription, Error>] = []
            results.reserveCapacity(options.clients)
            var started = 0
            while started < options.clients || results.count < started {
                while started < options.clients, started - results.count < max(1, options.connectConcurrency) {
                    started += 1
                    tasks.addTask {
                        do {
                            return .success(
                                try await Subscription.open(
                                    options.url, headers: options.headers, group: group, highestSequence: options.events, tally: tally))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                guard let result = await tasks.next() else { break }
                results.append(result)
            }
            return results
        }
    }

    private static func gather(_ subscriptions: [Subscription]) async throws -> [SubscriberRecord] {
        var records: [SubscriberRecord] = []
        records.reserveCapacity(subscriptions.count)
        for subscription in subscriptions { records.append(try await subscription.record()) }
        return records
    }

    static func format(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return "\(rounded)"
    }
}

/// What one subscriber saw, copied off its event loop.
struct SubscriberRecord: Sendable {
    var received = 0
    var distinctSequences = 0
    var duplicated = 0
    var outOfOrder = 0
    var latencies: [UInt32] = []  // microseconds
    var lastReceivedAt: UInt64 = 0
    var isClosed = false
    /// Why the subscriber's stream could not be read on (its parser's error); it was closed then.
    var streamError: String?
}

/// One open subscription of a load run.
struct Subscription: Sendable {
    let channel: Channel
    let handler: NIOLoopBound<LoadSubscriberHandler>
    let connectMilliseconds: Double

    static func open(
        _ url: HTTPURL, headers: [(name: String, value: String)], group: EventLoopGroup, highestSequence: Int,
        tally: DeliveryTally? = nil, vanishAfter plan: VanishPlan? = nil
    ) async throws -> Subscription {
        guard !url.isSecure else { throw LoadError("drip load speaks http only; \(url) is https") }
        let request = try ClientRequest(url: url, headers: headers).serialized(url: url, method: "GET", sendsBody: false, lastEventId: "")
        let started = Clock.nanoseconds()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .connect(host: url.host, port: url.port).get()
        let eventLoop = channel.eventLoop
        let (handler, opened) = try await eventLoop.submit { () -> (NIOLoopBound<LoadSubscriberHandler>, EventLoopFuture<Void>) in
            let handler = LoadSubscriberHandler(eventLoop: eventLoop, highestSequence: highestSequence, tally: tally, vanishAfter: plan)
            try channel.pipeline.syncOperations.addHandler(handler)
            channel.writeAndFlush(ByteBuffer(bytes: request), promise: nil)
            return (NIOLoopBound(handler, eventLoop: eventLoop), handler.opened.futureResult)
        }.get()
        do {
            try await opened.get()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        return Subscription(channel: channel, handler: handler, connectMilliseconds: Double(Clock.nanoseconds() - started) / 1e6)
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
    private var parser = EventStreamParser()
    private var seen: [UInt64] = []  // bitset of sequence numbers
    private var highest = 0
    private(set) var record = SubscriberRecord()
    private let vanishPlan: VanishPlan?

    /// The largest sequence number the publisher sends: larger ones (from some other publisher) are
    /// counted as received, not tracked, so a stray number cannot grow `seen` without bound.
    private let highestSequence: Int

    /// Where a steady subscriber counts what it got, for the run to see when delivery is complete.
    private let tally: DeliveryTally?
    private var didOpen = false

    init(eventLoop: EventLoop, highestSequence: Int, tally: DeliveryTally?, vanishAfter plan: VanishPlan? = nil) {
        self.highestSequence = highestSequence
        self.tally = tally
        opened = eventLoop.makePromise()
        closed = eventLoop.makePromise()
        vanishPlan = plan
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let now = Clock.nanoseconds()
        do {
            try buffer.withUnsafeReadableBytes { bytes in
                try response.read(bytes) { event in
                    switch event {
                    case .head(let head):
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
                                note(event.data, at: now)
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

    private func note(_ data: UnsafeBufferPointer<UInt8>, at now: UInt64) {
        record.received += 1
        record.lastReceivedAt = now
        guard let (sequence, sentAt) = Self.sequenceAndTimestamp(data), sequence <= highestSequence else { return }
        if sentAt <= now { record.latencies.append(UInt32(clamping: (now - sentAt) / 1000)) }
        let word = sequence / 64
        if word >= seen.count { seen.append(contentsOf: repeatElement(0, count: word - seen.count + 1)) }
        let bit = UInt64(1) << UInt64(sequence % 64)
        if seen[word] & bit != 0 {
            record.duplicated += 1
        } else {
            seen[word] |= bit
            record.distinctSequences += 1
            tally?.noteDistinct()
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

/// When a churning subscriber vanishes: after `reads` events, by a reset or by a plain close.
struct VanishPlan: Sendable {
    var reads: Int
    var resets: Bool
}

/// The churning connections of a load run: `options.churners` slots, each looping subscribe → read a
/// few events → vanish, until cancelled. Counts cycles, failures and the peak of open subscriptions.
final class Churn: Sendable {
    private let options: LoadOptions
    private let group: EventLoopGroup
    private let steady: Int
    private let counts = Mutex<(cycles: Int, failures: Int, open: Int, peak: Int)>((0, 0, 0, 0))

    init(options: LoadOptions, group: EventLoopGroup, steady: Int) {
        self.options = options
        self.group = group
        self.steady = steady
    }

    var cycles: Int { counts.withLock { $0.cycles } }
    var failures: Int { counts.withLock { $0.failures } }
    var peak: Int { counts.withLock { $0.peak } }

    func run() async {
        guard options.churners > 0 else { return }
        await withTaskGroup(of: Void.self) { slots in
            for slot in 0..<options.churners {
                slots.addTask { await self.loop(seed: UInt64(slot + 1)) }
            }
        }
    }

    private func loop(seed: UInt64) async {
        var random = SeededGenerator(seed: seed)
        while !Task.isCancelled {
            let plan = VanishPlan(reads: Int(random.next() % UInt64(options.churnReads)) + 1, resets: random.next() % 2 == 0)
            let subscription: Subscription
            do {
                subscription = try await Subscription.open(
                    options.url, headers: options.headers, group: group, highestSequence: options.events, vanishAfter: plan)
            } catch {
                counts.withLock { $0.failures += 1 }
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            counts.withLock {
                $0.open += 1
                $0.peak = max($0.peak, self.steady + $0.open)
            }
            let closed = try? await subscription.channel.eventLoop.submit { subscription.handler.value.closed.futureResult }.get()
            await withTaskCancellationHandler {
                try? await closed?.get()
            } onCancel: {
                subscription.channel.close(promise: nil)
            }
            counts.withLock {
                $0.open -= 1
                $0.cycles += 1
            }
        }
    }
}

/// Publishes numbered, timestamped events on one keep-alive connection.
final class Publisher: Sendable {
    private let channel: Channel
    private let handler: NIOLoopBound<PublisherHandler>

    private init(channel: Channel, handler: NIOLoopBound<PublisherHandler>) {
        self.channel = channel
        self.handler = handler
    }

    static func connect(to url: HTTPURL, headers: [(name: String, value: String)], group: EventLoopGroup) async throws -> Publisher {
        guard !url.isSecure else { throw LoadError("drip load publishes over http only; \(url) is https") }
        let head = try RequestHead(method: "POST", url: url, headers: headers)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: url.host, port: url.port).get()
        let eventLoop = channel.eventLoop
        let handler = try await eventLoop.submit { () -> NIOLoopBound<PublisherHandler> in
            let handler = PublisherHandler(head: head)
            try channel.pipeline.syncOperations.addHandler(handler)
            return NIOLoopBound(handler, eventLoop: eventLoop)
        }.get()
        return Publisher(channel: channel, handler: handler)
    }

    /// Publishes events 1 to `events`, at most `pipeline` unanswered at once and, with a `rate`, none
    /// before its time; succeeds with the seconds it took once every answer is in, fails on the first
    /// error answer or a closed connection.
    func publish(events: Int, rate: Double?, pipeline: Int, payloadSize: Int) -> EventLoopFuture<Double> {
        let (handler, eventLoop) = (handler, channel.eventLoop)
        return eventLoop.flatSubmit {
            handler.value.start(.init(events: events, rate: rate, pipeline: max(1, pipeline), payloadSize: payloadSize), on: eventLoop)
        }
    }

    func close() { channel.close(promise: nil) }
}

/// Drives publishing from the connection's event loop: the next request goes out as soon as an
/// answer makes room in the pipeline (read in the same loop turn) or its time comes, without a hop to
/// another thread, so the publisher keeps pace with the server however busy the subscribers on the
/// same loop keep it; each send timestamp is taken just before its request is written.
///
/// Invariant: used only on its channel's event loop; answers arrive in request order.
final class PublisherHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    struct Plan {
        var events: Int
        var rate: Double?
        var pipeline: Int
        var payloadSize: Int
    }

    private let head: RequestHead
    private var reader = HTTPResponseReader()
    private var status = 0
    private var context: ChannelHandlerContext?
    private var plan: Plan?
    private var finished: EventLoopPromise<Double>?
    private var startedAt: UInt64 = 0
    private var nextSequence = 1
    private var unanswered = 0
    private var wakeUp: Scheduled<Void>?

    init(head: RequestHead) {
        self.head = head
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func start(_ plan: Plan, on eventLoop: EventLoop) -> EventLoopFuture<Double> {
        guard context != nil, finished == nil else { return eventLoop.makeFailedFuture(LoadError("the publisher is not ready to publish")) }
        let promise = eventLoop.makePromise(of: Double.self)
        self.plan = plan
        finished = promise
        startedAt = Clock.nanoseconds()
        if plan.events <= 0 { finish(nil) } else { pump() }
        return promise.futureResult
    }

    /// Sends every request the pipeline and the rate allow now; wakes itself for the next one due.
    private func pump() {
        guard let context, let plan, finished != nil, wakeUp == nil else { return }
        var sent = false
        while unanswered < plan.pipeline, nextSequence <= plan.events {
            if let rate = plan.rate, rate > 0 {
                // Within 292 years of the start, so the addition cannot overflow; `rates` keeps it far inside.
                let due = startedAt + UInt64(min(Double(nextSequence - 1) / rate * 1e9, 9e18))
                let now = Clock.nanoseconds()
                if due > now {
                    wakeUp = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(due - now))) { [self] in
                        wakeUp = nil
                        pump()
                    }
                    break
                }
            }
            let body = LoadGenerator.payload(sequence: nextSequence, size: plan.payloadSize)
            var request = ByteBuffer(bytes: head.bytes(contentLength: body.utf8.count))
            request.writeString(body)
            context.write(NIOAny(request), promise: nil)
            nextSequence += 1
            unanswered += 1
            sent = true
        }
        if sent { context.flush() }
    }

    private func finish(_ error: Error?) {
        guard let promise = finished else { return }
        finished = nil
        wakeUp?.cancel()
        wakeUp = nil
        if let error { promise.fail(error) } else { promise.succeed(Double(Clock.nanoseconds() - startedAt) / 1e9) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { bytes in
                try reader.read(bytes) { event in
                    switch event {
                    case .head(let head): status = head.status
                    case .body: break
                    case .end:
                        guard unanswered > 0 else { return }
                        unanswered -= 1
                        guard (200..<300).contains(status) else { return finish(LoadError("publishing answered HTTP \(status)")) }
                        if unanswered == 0, let plan, nextSequence > plan.events { finish(nil) }
                    }
                }
            }
        } catch {
            finish(error)
            context.close(promise: nil)
            return
        }
        pump()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(LoadError("the publish connection closed"))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(error)
        context.close(promise: nil)
    }
}

/// A load-run failure with a message for the user.
public struct LoadError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The monotonic clock in nanoseconds, shared by the publisher and subscribers of one process.
enum Clock {
    static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
