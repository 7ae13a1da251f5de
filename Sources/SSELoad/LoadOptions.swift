import NIOCore
import SSEClient

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
    /// How https URLs are trusted (subscribers and the publisher).
    public var tls = TLSOptions()
    /// Subscribers as HTTP/2 streams spread over this many connections (https only); nil: HTTP/1.1,
    /// a connection each.
    public var http2Connections: Int?
    /// Local addresses the subscribers' connections are made from, in turn (`--source`); nil: the system's choice.
    public var sources: SourceAddresses?
    /// How long a subscriber may take to connect, and then to get its response head, before it
    /// counts as failed: a server that accepts and never answers does not hold the run.
    public var connectTimeout: Duration = .seconds(10)

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
/// parse of the event, both on the wall clock (so subscribers on other hosts measure it too, as well as
/// their clocks agree).
public struct LoadReport: Sendable {
    public var subscribersConnected: Int
    /// From the first connection attempt until every subscriber had connected or failed.
    public var connectSeconds: Double = 0
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
    /// Every latency, for merging reports of several processes (`drip load merge`).
    public var latencyHistogram = LatencyHistogram()
    /// For each published event (the first `FanOutTables.maxTrackedEvents`), the time from its send
    /// until the last subscriber that stayed connected had it, in microseconds; nil when it did not
    /// reach them all.
    public var fanOutMicroseconds: [UInt32?] = []

    /// Subscribers connected per second of the connect phase.
    public var connectsPerSecond: Double { connectSeconds > 0 ? Double(subscribersConnected) / connectSeconds : 0 }
    /// The fan-out times of the events that reached every subscriber, in milliseconds.
    public var fanOutMilliseconds: Percentiles { Percentiles(fanOutMicroseconds.compactMap { $0.map { Double($0) / 1000 } }) }

    public var deliveredPerSecond: Double { deliverySeconds > 0 ? Double(delivered) / deliverySeconds : 0 }
}

/// The 50th, 99th percentile and maximum of a set of samples.
public struct Percentiles: Sendable, Hashable {
    public var p50: Double
    public var p99: Double
    public var max: Double
    public var count: Int

    public init(_ samples: [Double]) {
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

/// A load-run failure with a message for the user.
public struct LoadError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
