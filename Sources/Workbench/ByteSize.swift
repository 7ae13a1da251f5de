/// A size in bytes written as a number with an optional unit: `512`, `64KB`, `64KiB`, `1MB`, `1MiB`, `2GB`.
///
/// drip treats KB/MB/GB as powers of 1024, like KiB/MiB/GiB, since limits are buffer sizes.
public struct ByteSize: Sendable, Hashable, CustomStringConvertible {
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    /// Parses `text`; nil when it is not a positive whole number with a known unit.
    public init?(parsing text: String) {
        let lowercased = text.lowercased()
        let digits = lowercased.prefix { $0.isASCII && $0.isNumber }
        let unit = lowercased.dropFirst(digits.count)
        let multipliers: [Substring: Int] = [
            "": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
            "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
        ]
        guard !digits.isEmpty, let number = Int(digits), let multiplier = multipliers[unit] else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow, bytes > 0 else { return nil }
        self.bytes = bytes
    }

    public var description: String {
        for (unit, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)"
    }
}
