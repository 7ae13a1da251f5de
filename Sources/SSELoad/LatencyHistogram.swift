import EventStream
import Histogram

/// Delivery latencies in microseconds (1 µs to 1 hour, 3 significant digits), as an HdrHistogram:
/// histograms of several `drip load` processes add up exactly, so merged percentiles are true ones,
/// not averages of percentiles.
///
/// Its JSON form (in `drip load --json`) is the histogram's parameters and its recorded buckets,
/// `[[value, count], …]` with each bucket's highest equivalent value: recording those values again
/// in a histogram of the same parameters rebuilds it bucket for bucket.
public struct LatencyHistogram: Sendable {
    public static let highestMicroseconds: UInt64 = 3_600_000_000
    /// Buckets a JSON form may hold (a histogram of these parameters has fewer than 30,000).
    public static let maxBuckets = 100_000
    /// Samples one JSON form may count in all (far past any run; bounded so that adding the
    /// histograms of `LoadReportFile.maxFiles` reports cannot overflow).
    public static let maxSamples: UInt64 = 1_000_000_000_000_000

    private(set) var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: highestMicroseconds, numberOfSignificantValueDigits: .three)

    public init() {}

    public var count: UInt64 { histogram.totalCount }

    /// Records one latency; longer than an hour counts as an hour.
    public mutating func record(microseconds: UInt64) {
        _ = histogram.record(min(max(1, microseconds), Self.highestMicroseconds))
    }

    public mutating func add(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    /// The latency at `percentile` (0 to 100) in milliseconds; 0 when empty.
    public func milliseconds(atPercentile percentile: Double) -> Double {
        count == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    public var maxMilliseconds: Double { count == 0 ? 0 : Double(histogram.max) / 1000 }

    public var json: JSONValue {
        var buckets: [JSONValue] = []
        for bucket in histogram.recordedValues() {
            buckets.append(.array([.number(String(bucket.value)), .number(String(bucket.count))]))
        }
        return .object([
            ("unit", .string("us")), ("lowest", .number("1")), ("highest", .number(String(Self.highestMicroseconds))),
            ("digits", .number("3")), ("buckets", .array(buckets)),
        ])
    }

    /// The histogram of a JSON form written by `json`; `what` names it in errors.
    public init(json: JSONValue, what: String) throws(LoadError) {
        guard case .object(let fields) = json, let unit = fields.first(where: { $0.key == "unit" })?.value,
            case .string("us") = unit, fields.first(where: { $0.key == "highest" })?.value == .number(String(Self.highestMicroseconds)),
            fields.first(where: { $0.key == "digits" })?.value == .number("3"),
            case .array(let buckets)? = fields.first(where: { $0.key == "buckets" })?.value
        else {
            throw LoadError(
                "\(what): latencyHistogram is not the form drip load --json writes (unit us, highest \(Self.highestMicroseconds), digits 3)")
        }
        guard buckets.count <= Self.maxBuckets else {
            throw LoadError("\(what): latencyHistogram has \(buckets.count) buckets; at most \(Self.maxBuckets)")
        }
        var total: UInt64 = 0
        for bucket in buckets {
            guard case .array(let pair) = bucket, pair.count == 2, case .number(let valueText) = pair[0], case .number(let countText) = pair[1],
                let value = UInt64(valueText), let count = UInt64(countText), (1...Self.highestMicroseconds).contains(value)
            else {
                throw LoadError("\(what): a latencyHistogram bucket is not [value, count] with value 1 to \(Self.highestMicroseconds)")
            }
            guard count <= Self.maxSamples - total else { throw LoadError("\(what): latencyHistogram counts more than \(Self.maxSamples) samples") }
            total += count
            _ = histogram.record(value, count: count)
        }
    }
}
