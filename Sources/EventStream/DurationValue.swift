/// A duration as drip takes it from a person or a peer: whole milliseconds from 0 to `maximum`
/// (7 days), written with a unit — `250ms`, `2s`, `1m`, `1h`, `1d`.
///
/// The one duration type of drip's inputs: every timer, timeout, stall, delay, `retry` and sleep
/// is one, so every conversion (to `Duration`, to nanoseconds, divided by a clock speed down to
/// 0.001) fits in 64-bit nanoseconds and can never trap. A `retry:` field from a server, which may
/// hold any number of digits, is brought to the maximum with `init(clampingMilliseconds:)`.
public struct DurationValue: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// 7 days: a week of script time, still within Int64 nanoseconds at the slowest clock (speed 0.001).
    public static let maximumMilliseconds = 7 * 86_400_000
    public static let maximum = DurationValue(clampingMilliseconds: maximumMilliseconds)
    public static let zero = DurationValue(clampingMilliseconds: 0)

    /// From 0 through `maximumMilliseconds`.
    public let milliseconds: Int

    /// `milliseconds` brought into 0…`maximumMilliseconds`.
    public init(clampingMilliseconds milliseconds: Int) {
        self.milliseconds = min(max(milliseconds, 0), Self.maximumMilliseconds)
    }

    /// Why a text is not a duration, in words that name it.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    private static let units: [Substring: Int] = ["ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000]

    /// Parses `text`: a whole number and a unit (`0` alone is also taken). With `bareMilliseconds`, a
    /// number without a unit is milliseconds (as in the `retry:` field); otherwise it is an error
    /// that asks for the unit.
    public static func parse(_ text: String, bareMilliseconds: Bool = false) -> Result<DurationValue, ParseError> {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = Substring(text.dropFirst(digits.count).lowercased())
        guard !digits.isEmpty else { return .failure(ParseError(description: "'\(text)' is not a duration (250ms, 2s, 1m, 1h)")) }
        let scale: Int
        if unit.isEmpty {
            guard bareMilliseconds || digits.allSatisfy({ $0 == "0" }) else {
                return .failure(ParseError(description: "'\(text)' has no unit: \(digits) what? write \(digits)s or \(digits)ms"))
            }
            scale = 1
        } else if let known = units[unit] {
            scale = known
        } else {
            return .failure(ParseError(description: "'\(text)' has an unknown unit '\(unit)' (ms, s, m, h or d)"))
        }
        guard let number = Int(digits), case (let milliseconds, false) = number.multipliedReportingOverflow(by: scale),
            milliseconds <= maximumMilliseconds
        else {
            return .failure(ParseError(description: "'\(text)' is longer than the longest duration drip takes (\(maximum))"))
        }
        return .success(DurationValue(clampingMilliseconds: milliseconds))
    }

    /// `parse(text, bareMilliseconds:)`, or nil.
    public init?(parsing text: String, bareMilliseconds: Bool = false) {
        guard case .success(let value) = Self.parse(text, bareMilliseconds: bareMilliseconds) else { return nil }
        self = value
    }

    public var description: String {
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where milliseconds != 0 && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }

    public var duration: Duration { .milliseconds(milliseconds) }

    /// Always exact: at most 6.048e14.
    public var nanoseconds: Int64 { Int64(milliseconds) * 1_000_000 }

    public static func < (lhs: DurationValue, rhs: DurationValue) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

extension Duration {
    /// This duration in nanoseconds, brought into Int64's range (a negative duration is 0): the one
    /// conversion from `Duration` for timers that count in nanoseconds (NIO's `TimeAmount`).
    public var clampedNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        guard seconds < Int64.max / 1_000_000_000 - 1 else { return Int64.max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

extension Duration {
    /// This duration in whole milliseconds, brought into Int's range (a negative duration is 0).
    public var clampedMilliseconds: Int { Int(clampedNanoseconds / 1_000_000) }

    /// This duration in seconds, as a `Double` (for rates and printed figures).
    public var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
