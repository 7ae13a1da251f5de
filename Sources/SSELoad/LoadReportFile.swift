import EventStream

/// What `drip load merge` reads from one `drip load --json` report, and their sum: a load larger
/// than one machine runs as several processes (a CI matrix, a Kubernetes Job, ssh), each writing its
/// report, and the merged one counts every subscriber and event and takes its latency percentiles
/// from the added histograms.
///
/// Invariants: every count is 0 or more and fits (bounded per file, and `maxFiles` files at most).
public struct LoadReportFile: Sendable {
    public var processes = 1
    public var subscribers = 0
    public var connectFailures = 0
    public var published = 0
    public var delivered = 0
    public var deliverySeconds = 0.0
    public var lost = 0
    public var streamErrors = 0
    public var duplicated = 0
    public var outOfOrder = 0
    public var disconnected = 0
    public var peakConnections = 0
    public var latency = LatencyHistogram()
    /// Per published event, the time until every subscriber had it (microseconds; nil: not all did).
    public var fanOutMicroseconds: [UInt32?] = []
    /// The longest connect phase (from the first attempt until all connected or failed).
    public var connectSeconds = 0.0

    /// Reports one merge reads at most.
    public static let maxFiles = 1000
    /// The largest count a report may give for any field.
    static let maxCount = 1_000_000_000_000

    public init() {}

    /// The summary of one run's report, as its `--json` form carries it.
    public init(_ report: LoadReport) {
        subscribers = report.subscribersConnected
        connectFailures = report.connectFailures.values.reduce(0, +)
        published = report.published
        delivered = report.delivered
        deliverySeconds = report.deliverySeconds
        lost = report.lost
        streamErrors = report.streamErrors.values.reduce(0, +)
        duplicated = report.duplicated
        outOfOrder = report.outOfOrder
        disconnected = report.disconnected
        peakConnections = report.peakConnections
        latency = report.latencyHistogram
        fanOutMicroseconds = report.fanOutMicroseconds
        connectSeconds = report.connectSeconds
    }

    /// The fan-out times of the events that reached every subscriber, in milliseconds.
    public var fanOutMilliseconds: Percentiles { Percentiles(fanOutMicroseconds.compactMap { $0.map { Double($0) / 1000 } }) }

    /// The report in `text` (one JSON object from `drip load --json`); `what` (its file) names it in errors.
    public init(json text: String, what: String) throws(LoadError) {
        let value: JSONValue
        do { value = try JSONValue(parsing: text) } catch { throw LoadError("\(what) is not JSON: \(error)") }
        guard case .object(let fields) = value else { throw LoadError("\(what) is not a drip load --json report (not an object)") }
        func field(_ name: String) -> JSONValue? { fields.first { $0.key == name }?.value }
        func count(_ name: String) throws(LoadError) -> Int {
            guard case .number(let text)? = field(name), let number = Int(text), (0...Self.maxCount).contains(number) else {
                throw LoadError("\(what): \(name) is missing or not a count from 0 to \(Self.maxCount)")
            }
            return number
        }
        subscribers = try count("subscribers")
        connectFailures = try count("connectFailures")
        published = try count("published")
        delivered = try count("delivered")
        lost = try count("lost")
        streamErrors = try count("streamErrors")
        duplicated = try count("duplicated")
        outOfOrder = try count("outOfOrder")
        disconnected = try count("disconnected")
        peakConnections = try count("peakConnections")
        guard case .number(let seconds)? = field("deliverySeconds"), let parsed = Double(seconds), parsed.isFinite, parsed >= 0, parsed < 1e9 else {
            throw LoadError("\(what): deliverySeconds is missing or not a number of seconds")
        }
        deliverySeconds = parsed
        guard let histogram = field("latencyHistogram") else {
            throw LoadError("\(what) has no latencyHistogram (written by drip load --json from this version on)")
        }
        latency = try LatencyHistogram(json: histogram, what: what)
        if case .number(let seconds)? = field("connectSeconds"), let parsed = Double(seconds), parsed.isFinite, parsed >= 0, parsed < 1e9 {
            connectSeconds = parsed
        }
        // Absent from reports of runs without a publisher (and of earlier versions): no fan-out then.
        if let list = field("fanOutMicroseconds") {
            guard case .array(let items) = list, items.count <= FanOutTables.maxTrackedEvents else {
                throw LoadError("\(what): fanOutMicroseconds is not a list of at most \(FanOutTables.maxTrackedEvents) entries")
            }
            fanOutMicroseconds = try items.map { (item) throws(LoadError) -> UInt32? in
                if case .null = item { return nil }
                guard case .number(let text) = item, let value = UInt32(text) else {
                    throw LoadError("\(what): fanOutMicroseconds holds \(item.serialized), not a number of microseconds or null")
                }
                return value
            }
        }
    }

    /// The sum of `reports`: counts added, the longest delivery time, the histograms added.
    public static func merge(_ reports: [LoadReportFile]) -> LoadReportFile {
        var merged = LoadReportFile()
        merged.processes = reports.count
        // An event reached everyone when it reached everyone in each process; then the last to have
        // it anywhere says when. Reports without fan-out (no publisher) leave none to merge.
        let tracked = reports.map(\.fanOutMicroseconds.count).min() ?? 0
        merged.fanOutMicroseconds = (0..<tracked).map { index in
            var latest: UInt32 = 0
            for report in reports {
                guard let time = report.fanOutMicroseconds[index] else { return nil }
                latest = max(latest, time)
            }
            return latest
        }
        for report in reports {
            merged.subscribers += report.subscribers
            merged.connectFailures += report.connectFailures
            // Each process reads the same published events (one publisher, or each its own).
            merged.published = max(merged.published, report.published)
            merged.delivered += report.delivered
            merged.deliverySeconds = max(merged.deliverySeconds, report.deliverySeconds)
            merged.lost += report.lost
            merged.streamErrors += report.streamErrors
            merged.duplicated += report.duplicated
            merged.outOfOrder += report.outOfOrder
            merged.disconnected += report.disconnected
            merged.peakConnections += report.peakConnections
            merged.latency.add(report.latency)
            merged.connectSeconds = max(merged.connectSeconds, report.connectSeconds)
        }
        return merged
    }

    public var deliveredPerSecond: Double { deliverySeconds > 0 ? Double(delivered) / deliverySeconds : 0 }
}
