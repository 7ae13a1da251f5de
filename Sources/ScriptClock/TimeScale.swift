import Synchronization

/// How fast the workbench's clock runs against the wall clock: at speed S, a duration D of script
/// time (a `sleep`, a deadline, a retry, a heartbeat, a stall) lasts D / S of real time.
///
/// One instance is shared by a workbench's server, clients and expectations, so `drip run --speed`
/// compresses every timer by the same factor and a script keeps its meaning. The speed is always
/// positive; it may change while timers run (a `replay … speed=X`), and each timer takes the speed
/// current when it is armed.
public final class TimeScale: Sendable {
    private let current: Mutex<Double>

    /// The speeds accepted; values outside are brought to the nearest bound (NaN to 1).
    public static let speeds: ClosedRange<Double> = 0.001...1_000_000

    public init(speed: Double = 1) {
        current = Mutex(Self.clamped(speed))
    }

    public var speed: Double {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = Self.clamped(newValue) } }
    }

    /// The real time that `duration` of script time lasts now.
    public func wall(_ duration: Duration) -> Duration {
        let speed = self.speed
        return speed == 1 ? duration : duration / speed
    }

    /// The real time, in nanoseconds, that `milliseconds` of script time lasts now (at least 1 ns for a positive input).
    public func wallNanoseconds(milliseconds: Int) -> Int64 {
        let nanoseconds = Double(milliseconds) * 1e6 / speed
        guard nanoseconds < Double(Int64.max) else { return Int64.max }
        return milliseconds > 0 ? max(1, Int64(nanoseconds)) : 0
    }

    private static func clamped(_ speed: Double) -> Double {
        speed.isNaN ? 1 : min(max(speed, speeds.lowerBound), speeds.upperBound)
    }
}
