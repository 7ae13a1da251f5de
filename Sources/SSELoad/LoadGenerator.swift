import EventStream
import NIOCore
import NIOPosix
import SSEClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
        let transport = try await LoadTransport.prepare(options, group: group)
        defer { transport.close() }
        if let count = options.http2Connections { progress("as HTTP/2 streams over \(count) connection\(count == 1 ? "" : "s")") }
        // Tracked without a publisher too: subscribers on other hosts of a merged run see the events
        // of one publisher somewhere, numbered 1 to --events.
        let fanOut = FanOutTables(group: group, events: options.events)
        let connectStarted = MonotonicTime.nanoseconds()
        let subscriptions = await connectAll(options, group: group, tally: tally, fanOut: fanOut, transport: transport)
        let connectSeconds = Double(MonotonicTime.nanoseconds() - connectStarted) / 1e9
        let connected = subscriptions.compactMap { try? $0.get() }
        var failures: [String: Int] = [:]
        for case .failure(let error) in subscriptions { failures[String(describing: error), default: 0] += 1 }
        let failureList = failures.sorted { $0.value > $1.value }.map { "\($0.value)× \($0.key)" }.joined(separator: "; ")
        progress("\(connected.count) connected" + (failures.isEmpty ? "" : ", \(subscriptions.count - connected.count) failed: \(failureList)"))

        var published = 0
        var publishSeconds = 0.0
        let started = MonotonicTime.nanoseconds()
        let churn = Churn(options: options, group: group, transport: transport, steady: connected.count)
        if let publishURL = options.publishURL, !connected.isEmpty || options.clients == 0 {
            let publisher = try await Publisher.connect(to: publishURL, headers: options.headers, tls: options.tls, group: group)
            let churning = Task { await churn.run() }
            defer { churning.cancel() }
            do {
                publishSeconds = try await publisher.publish(
                    events: options.events, rate: options.rate, pipeline: options.pipeline, payloadSize: options.payloadSize
                ).get()
            } catch {
                for subscription in connected { subscription.channel.close(promise: nil) }
                guard let refused = failures["HTTP 503"] else { throw error }
                throw LoadError(
                    "\(error); the server refused \(refused) subscriber\(refused == 1 ? "" : "s") with HTTP 503 too: it may be at its connection limit"
                )
            }
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
            let deadline = MonotonicTime.nanoseconds() + UInt64(options.settleTimeout.clampedNanoseconds)
            while MonotonicTime.nanoseconds() < deadline, !tally.hasEverything(published: published, subscribers: connected.count) {
                try await Task.sleep(for: .milliseconds(5))
            }
        } else {
            progress("subscribed; counting events for \(options.duration)")
            try await Task.sleep(for: options.duration)
        }

        let records = try await gather(connected)
        for subscription in connected { subscription.channel.close(promise: nil) }
        let lastDelivery = records.map(\.lastReceivedAt).max() ?? MonotonicTime.nanoseconds()
        let deliverySeconds =
            options.publishURL == nil
            ? Double(MonotonicTime.nanoseconds() - started) / 1e9 : Double(max(lastDelivery, started) - started) / 1e9
        var lost = 0
        var latencies: [Double] = []
        var histogram = LatencyHistogram()
        for record in records {
            latencies += record.latencies.map { Double($0) / 1000 }
            for microseconds in record.latencies { histogram.record(microseconds: UInt64(microseconds)) }
            if published > 0, !record.isClosed, record.streamError == nil { lost += max(0, published - record.distinctSequences) }
        }
        let stayed = records.filter { !$0.isClosed && $0.streamError == nil }.count
        let fanOutTimes = try await fanOut.combined(subscribers: stayed)
        return LoadReport(
            subscribersConnected: connected.count,
            connectSeconds: connectSeconds,
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
            peakConnections: max(connected.count, churn.peak),
            latencyHistogram: histogram,
            fanOutMicroseconds: published > 0
                ? (0..<min(published, fanOut.trackedEvents)).map { $0 < fanOutTimes.count ? fanOutTimes[$0] : nil } : fanOutTimes
        )
    }

    /// `{"seq":N,"t":NANOSECONDS,"pad":"…"}` (t on the wall clock, since 1970), padded to `size` bytes.
    static func payload(sequence: Int, size: Int) -> String {
        let head = "{\"seq\":\(sequence),\"t\":\(WallTime.nanoseconds()),\"pad\":\""
        let padding = max(0, size - head.utf8.count - 2)
        return head + String(repeating: "x", count: padding) + "\"}"
    }

    private static func connectAll(
        _ options: LoadOptions, group: EventLoopGroup, tally: DeliveryTally, fanOut: FanOutTables?, transport: LoadTransport
    ) async -> [Result<Subscription, Error>] {
        await withTaskGroup(of: Result<Subscription, Error>.self) { tasks in
            var results: [Result<Subscription, Error>] = []
            results.reserveCapacity(options.clients)
            var started = 0
            while started < options.clients || results.count < started {
                while started < options.clients, started - results.count < max(1, options.connectConcurrency) {
                    started += 1
                    let index = started
                    tasks.addTask {
                        do {
                            return .success(
                                try await Subscription.open(
                                    options.url, headers: options.headers, group: group, highestSequence: options.events, tally: tally,
                                    fanOut: fanOut, transport: transport, index: index))
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

/// The wall clock in nanoseconds since 1970: an event's send time, so that subscribers in other
/// processes and on other hosts (with clocks in step, NTP) measure its latency too.
enum WallTime {
    static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(max(0, time.tv_sec)) * 1_000_000_000 + UInt64(max(0, time.tv_nsec))
    }
}

/// The monotonic clock in nanoseconds, for the durations of one process (connect times, deadlines).
enum MonotonicTime {
    static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
