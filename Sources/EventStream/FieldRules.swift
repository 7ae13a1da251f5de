#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The event-stream field rules of the WHATWG HTML standard (9.2.6), stated once for both of the
/// parser's paths (line by line, and the fast path for simple blocks): which field a line names,
/// where its value starts, when an `id` counts and what a `retry` is worth.
enum FieldRules {
    /// A UTF-8 byte order mark, stripped once at the very start of a stream.
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The value of `line` when its field name is exactly `name` (the whole line, or the part before
    /// the first colon); nil for any other name, which the spec ignores.
    @inline(__always)
    static func value(of line: UnsafeBufferPointer<UInt8>, named name: StaticString) -> UnsafeBufferPointer<UInt8>? {
        let length = name.utf8CodeUnitCount
        guard line.count >= length, let base = line.baseAddress else { return nil }
        guard memcmp(base, name.utf8Start, length) == 0 else { return nil }
        if line.count == length { return UnsafeBufferPointer(start: base + length, count: 0) }
        return line[length] == .colon ? value(of: line, after: length) : nil
    }

    /// The field value after the colon at `colon`, without one leading space.
    @inline(__always)
    static func value(of line: UnsafeBufferPointer<UInt8>, after colon: Int) -> UnsafeBufferPointer<UInt8> {
        var start = colon + 1
        if start < line.count, line[start] == .space { start += 1 }
        return UnsafeBufferPointer(rebasing: line[start...])
    }

    /// An `id` whose value holds U+0000 is ignored: the previous id stays. (libc's vectorised `memchr`:
    /// `contains` looks a byte at a time.)
    @inline(__always)
    static func acceptsId(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = value.baseAddress else { return true }
        return memchr(base, 0, value.count) == nil
    }

    /// The value of a `retry` field: all ASCII digits, base 10; values past `Int.max` saturate.
    static func retryValue<Bytes: Collection<UInt8>>(_ value: Bytes) -> Int? {
        guard !value.isEmpty else { return nil }
        var result = 0
        var saturated = false
        for byte in value {
            guard byte &- UInt8(ascii: "0") < 10 else { return nil }
            if saturated { continue }
            let (times10, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte &- UInt8(ascii: "0")))
            if overflow1 || overflow2 {
                saturated = true
                result = .max
            } else {
                result = sum
            }
        }
        return result
    }
}
