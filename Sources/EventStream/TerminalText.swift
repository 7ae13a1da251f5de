#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    import _Builtin_intrinsics.intel
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Text from someone else made safe to print at a terminal: every control character other than tab
/// (C0, DEL, C1) and every bidirectional control becomes an escape such as `\u{1B}`, so a server's
/// bytes cannot change colours, move the cursor, set the title, ring the bell or reorder the line.
/// Everything else is kept. Ill-formed UTF-8 becomes U+FFFD exactly as `String(decoding:as:)` makes
/// it (one per maximal subpart), so escaping raw bytes gives the text of decoding them first.
///
/// One escaper for both paths: `drip connect`'s text lines written straight from the bytes read
/// (`EventStreamParser.parse(_:appendingTextLinesTo:)`) and any `String` shown at a terminal.
public enum TerminalText {
    /// The room `write` needs for `count` input bytes: a control byte becomes six (`\u{1B}`).
    @inline(__always)
    public static func maximumLength(of count: Int) -> Int { count * 6 }

    /// `text` with its controls shown as escapes.
    public static func visible(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            guard plainPrefixLength(bytes) < bytes.count else { return String(decoding: bytes, as: UTF8.self) }
            return String(unsafeUninitializedCapacity: maximumLength(of: bytes.count)) { storage in
                guard let start = storage.baseAddress else { return 0 }
                return start.distance(to: write(bytes, to: start))
            }
        }
    }

    /// Writes `bytes` with their controls escaped to `destination`, which has room for
    /// `maximumLength(of: bytes.count)` bytes, and returns the end of what was written.
    @inline(__always)
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>, to destination: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        guard let base = bytes.baseAddress else { return destination }
        var index = 0
        var output = destination
        while true {
            let plain = plainPrefixLength(UnsafeBufferPointer(start: base + index, count: bytes.count - index))
            memcpy(output, base + index, plain)
            output += plain
            index += plain
            guard index < bytes.count else { return output }
            output = writeSpecial(at: base + index, available: bytes.count - index, to: output, consumed: &index)
        }
    }

    /// How many bytes at the start of `bytes` are printable ASCII (0x20–0x7E).
    @inline(__always)
    static func plainPrefixLength(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let count = bytes.count
        var index = 0
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
            let space = _mm_set1_epi8(0x20)
            let delete = _mm_set1_epi8(0x7F)
            while index + 16 <= count {
                let vector = _mm_loadu_si128(UnsafeRawPointer(base + index).assumingMemoryBound(to: __m128i.self))
                // A signed comparison: below 0x20 and from 0x80 up (negative) in one test.
                let flagged = _mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(vector, space), _mm_cmpeq_epi8(vector, delete)))
                if flagged != 0 { return index + Int(flagged.trailingZeroBitCount) }
                index += 16
            }
        #endif
        #if _endian(little)
            while index + 8 <= count {
                let flagged = attention(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                if flagged != 0 { return index + flagged.trailingZeroBitCount / 8 }
                index += 8
            }
        #endif
        while index < count, (0x20..<0x7F).contains(base[index]) { index += 1 }
        return index
    }

    /// A word with the high bit set in exactly the bytes that are not printable ASCII: below 0x20,
    /// DEL, or from 0x80 up. (Each test adds within seven bits, so no carry crosses a byte.)
    @inline(__always)
    static func attention(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let deletes = word ^ low7
        let isDelete = ~(((deletes & low7) &+ low7) | deletes)
        let isControl = ~(((word & low7) &+ ones &* 0x60) | word)
        return (isDelete | isControl | word) & 0x8080_8080_8080_8080
    }

    /// Writes the byte or sequence at `start` (not printable ASCII) as it is shown, and advances
    /// `consumed` past it: a tab as is, a control as an escape, a well-formed sequence as is unless it
    /// is a C1 or bidirectional control, an ill-formed part as U+FFFD.
    @inline(__always)
    private static func writeSpecial(
        at start: UnsafePointer<UInt8>, available: Int, to output: UnsafeMutablePointer<UInt8>, consumed: inout Int
    ) -> UnsafeMutablePointer<UInt8> {
        let byte = start[0]
        if byte < 0x80 {
            consumed += 1
            guard byte != 0x09 else {
                output.pointee = byte
                return output + 1
            }
            return writeEscape(UInt32(byte), to: output)
        }
        let sequence = JSONStringEscaper.utf8Sequence(at: start, available: available)
        consumed += sequence.length
        guard sequence.isValid else {
            output[0] = 0xEF
            output[1] = 0xBF
            output[2] = 0xBD
            return output + 3
        }
        if let scalar = controlScalar(start, length: sequence.length) { return writeEscape(scalar, to: output) }
        memcpy(output, start, sequence.length)
        return output + sequence.length
    }

    /// The scalar of the well-formed sequence at `start` when it is a C1 control (U+0080–U+009F) or a
    /// bidirectional control (ALM, LRM, RLM, the embeddings and overrides, the isolates).
    @inline(__always)
    private static func controlScalar(_ start: UnsafePointer<UInt8>, length: Int) -> UInt32? {
        switch (start[0], length) {
        case (0xC2, 2) where start[1] <= 0x9F: return UInt32(start[1])
        case (0xD8, 2) where start[1] == 0x9C: return 0x061C
        case (0xE2, 3):
            let scalar = UInt32(start[1] & 0x3F) << 6 | UInt32(start[2] & 0x3F) | 0x2000
            switch scalar {
            case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return scalar
            default: return nil
            }
        default: return nil
        }
    }

    /// Writes `\u{…}` with `scalar` in upper-case hexadecimal, no leading zeros.
    @inline(__always)
    private static func writeEscape(_ scalar: UInt32, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        output[0] = UInt8(ascii: "\\")
        output[1] = UInt8(ascii: "u")
        output[2] = UInt8(ascii: "{")
        var digits = 1
        while digits < 8, scalar >> (4 * UInt32(digits)) != 0 { digits += 1 }
        for position in 0..<digits {
            let nibble = UInt8(truncatingIfNeeded: scalar >> (4 * UInt32(digits - 1 - position))) & 0xF
            output[3 + position] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
        }
        output[3 + digits] = UInt8(ascii: "}")
        return output + 4 + digits
    }
}
