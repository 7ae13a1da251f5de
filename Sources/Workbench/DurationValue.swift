/// A duration written as a whole number with a unit: `250ms`, `2s`, `1m`, `1h` (a bare number is
/// milliseconds, as in the `retry:` field).
public struct DurationValue: Sendable, Hashable, CustomStringConvertible {
    public var milliseconds: Int

    public init(milliseconds: Int) { self.milliseconds = milliseconds }

    /// Parses `text`; nil unless it is a non-negative whole number with an optional known unit.
    public init?(parsing text: String) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count).lowercased()
        let scales: [String: Int] = ["": 1, "ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000]
        guard !digits.isEmpty, let number = Int(digits), let scale = scales[unit] else { return nil }
        let (milliseconds, overflow) = number.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        self.milliseconds = milliseconds
    }

    public var description: String {
        if milliseconds != 0, milliseconds % 3_600_000 == 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds != 0, milliseconds % 60_000 == 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds != 0, milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }

    public var duration: Duration { .milliseconds(milliseconds) }
}
