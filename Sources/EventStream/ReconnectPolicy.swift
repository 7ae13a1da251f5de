/// When to reconnect after an open stream ends or breaks: the reconnection time (3 s until a
/// `retry:` field changes it), optionally growing by a multiplier per failed attempt up to a maximum,
/// less a random share (jitter), for at most a number of attempts.
///
/// With the defaults (multiplier 1, no jitter) the delay is exactly the reconnection time, as in a
/// browser. Pure: the random source is passed in, so tests fix it.
public struct ReconnectPolicy: Sendable, Hashable {
    /// The reconnection time before any `retry:` field: 3000 ms, as browsers use.
    public static let defaultReconnectionTime = Duration.milliseconds(3000)

    /// Each consecutive failed attempt multiplies the delay by this (1 keeps it constant).
    public var backoffMultiplier: Double
    /// The delay never grows past this (it may start above it, when `retry:` asks for more).
    public var maximumDelay: Duration
    /// The share of the delay (0…1) that is taken off at random: 0.5 waits between 50 % and 100 %.
    public var jitter: Double
    /// Consecutive failed attempts allowed before giving up; nil retries for ever.
    public var maxAttempts: Int?

    public init(backoffMultiplier: Double = 1, maximumDelay: Duration = .seconds(60), jitter: Double = 0, maxAttempts: Int? = nil) {
        self.backoffMultiplier = max(1, backoffMultiplier)
        self.maximumDelay = maximumDelay
        self.jitter = min(1, max(0, jitter))
        self.maxAttempts = maxAttempts
    }

    /// The wait before attempt `attempt` (1 for the first reconnection after a stream was open), or
    /// nil when `maxAttempts` is used up.
    public func delay(
        reconnectionTime: Duration,
        attempt: Int,
        using random: inout some RandomNumberGenerator
    ) -> Duration? {
        if let maxAttempts, attempt > maxAttempts { return nil }
        var seconds = Self.seconds(reconnectionTime)
        if backoffMultiplier > 1, attempt > 1 {
            let grown = seconds * pow(backoffMultiplier, Double(attempt - 1))
            seconds = max(seconds, min(grown, Self.seconds(maximumDelay)))
        }
        if jitter > 0 {
            seconds *= 1 - jitter * Double.random(in: 0..<1, using: &random)
        }
        let nanoseconds = (seconds * 1e9).rounded()
        return .nanoseconds(nanoseconds < 9e18 ? Int64(nanoseconds) : Int64.max)
    }

    private static func seconds(_ duration: Duration) -> Double { duration.secondsValue }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(min(exponent, 64)) { result *= base }
        return result
    }
}
