#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    import _Builtin_intrinsics.intel
#endif

/// Writes bytes as the inside of a JSON string literal: `"` and `\` escaped, control characters as
/// `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`, everything else as UTF-8 — with each ill-formed UTF-8
/// sequence replaced by U+FFFD exactly as `String(decoding:as: UTF8.self)` replaces it (one U+FFFD per
/// maximal subpart, the WHATWG and Unicode rule).
///
/// So escaping raw bytes gives the same text as decoding them to a `String` and escaping that, without
/// making the string. Plain ASCII is copied sixteen bytes at a time (SSE2 on x86-64) or eight
/// (elsewhere, and for the tail); short strings with nothing to escape as one or two words.
public enum JSONStringEscaper {
    /// The room `write` needs for `count` input bytes: 6 per byte (a control byte becomes `\u00XX`),
    /// plus 16 because it stores whole vectors and keeps only part of the last.
    @inline(__always)
    public static func maximumLength(of count: Int) -> Int { count * 6 + 16 }

    /// Appends `bytes` as a quoted JSON string to `output`.
    public static func appendQuoted(_ bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maximumLength(of: bytes.count) + 2) { buffer in
            guard let start = buffer.baseAddress else { return }
            start.pointee = .quotationMark
            let end = write(bytes, to: start + 1)
            end.pointee = .quotationMark
            output.append(contentsOf: UnsafeBufferPointer(start: start, count: start.distance(to: end) + 1))
        }
    }

    /// Writes `bytes` escaped (without quotes) to `destination`, which has room for
    /// `maximumLength(of: bytes.count)` bytes, and returns the end of what was written.
    /// A short plain string (an event type, an id) is copied where the call is, as one or two words
    /// that may overlap (no byte outside the string is read); anything else goes to one shared loop.
    @inline(__always)
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>, to destination: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        #if _endian(little)
            if bytes.count < 16, let base = bytes.baseAddress, let copied = copyPlainShort(base, count: bytes.count, to: destination) {
                return copied
            }
        #endif
        return writeAny(bytes, to: destination)
    }

    @inline(never)
    private static func writeAny(_ bytes: UnsafeBufferPointer<UInt8>, to destination: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        write(bytes, to: destination, usingVectors: true)
    }

    /// `write`, with the sixteen-byte loop left out when `usingVectors` is false (or there is no
    /// SSE2), so that tests can check the word loop on its own too.
    @inline(__always)
    static func write(
        _ bytes: UnsafeBufferPointer<UInt8>, to destination: UnsafeMutablePointer<UInt8>, usingVectors: Bool
    ) -> UnsafeMutablePointer<UInt8> {
        guard let base = bytes.baseAddress else { return destination }
        let count = bytes.count
        var index = 0
        var output = destination
        #if _endian(little)
            #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
                // Sixteen bytes at a time, each vector stored whole.
                let quote = _mm_set1_epi8(CChar(bitPattern: .quotationMark))
                let backslash = _mm_set1_epi8(CChar(bitPattern: .backslash))
                let space = _mm_set1_epi8(0x20)
                while usingVectors, index + 16 <= count {
                    let vector = loadVector(base + index)
                    storeVector(vector, output)
                    // A signed comparison: below 0x20 and from 0x80 up (negative) in one test.
                    let controlOrHigh = _mm_movemask_epi8(_mm_cmplt_epi8(vector, space))
                    let quoted = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(vector, quote), _mm_cmpeq_epi8(vector, backslash)))
                    if controlOrHigh | quoted == 0 {
                        index += 16
                        output += 16
                        continue
                    }
                    if controlOrHigh == 0, index + 32 <= count {
                        // Only quotes and backslashes: a backslash goes before each, and the input
                        // from that byte on is stored again one place further. Each insertion reads
                        // the input, not what the last one wrote, so they do not wait on each other.
                        var remaining = quoted
                        var inserted = 0
                        while remaining != 0 {
                            let position = Int(remaining.trailingZeroBitCount)
                            output[position + inserted] = .backslash
                            inserted += 1
                            storeVector(loadVector(base + index + position), output + position + inserted)
                            remaining &= remaining &- 1
                        }
                        index += 16
                        output += 16 + inserted
                        continue
                    }
                    // Otherwise the first byte that needs attention is dealt with, and the loop
                    // starts again just after it.
                    let position = Int((controlOrHigh | quoted).trailingZeroBitCount)
                    index += position
                    output += position
                    let byte = base[index]
                    if byte >= 0x80 {
                        output = writeSequence(at: base + index, available: count - index, to: output, consumed: &index)
                    } else {
                        output = escape(byte, to: output)
                        index += 1
                    }
                }
            #endif
            // Eight bytes at a time: the word is stored whole, then each byte in it that needs
            // attention is dealt with in place and the rest of the word stored again after it.
            words: while index + 8 <= count {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                UnsafeMutableRawPointer(output).storeBytes(of: word, as: UInt64.self)
                var flagged = attention(word)
                var done = 0
                while flagged != 0 {
                    let position = flagged.trailingZeroBitCount / 8
                    output += position - done
                    let byte = UInt8(truncatingIfNeeded: word >> UInt64(8 * position))
                    if byte >= 0x80 {
                        index += position
                        output = writeSequence(at: base + index, available: count - index, to: output, consumed: &index)
                        continue words
                    }
                    output = escape(byte, to: output)
                    done = position + 1
                    flagged &= flagged &- 1
                    if done < 8 { UnsafeMutableRawPointer(output).storeBytes(of: word >> UInt64(8 * done), as: UInt64.self) }
                }
                output += 8 - done
                index += 8
            }
        #endif
        while index < count {
            let byte = base[index]
            if byte >= 0x80 {
                output = writeSequence(at: base + index, available: count - index, to: output, consumed: &index)
            } else if byte >= 0x20, byte != .quotationMark, byte != .backslash {
                output.pointee = byte
                output += 1
                index += 1
            } else {
                output = escape(byte, to: output)
                index += 1
            }
        }
        return output
    }

    /// Copies `count` (below 16) bytes that need no escaping and returns the end of the copy; nil,
    /// having written nothing that counts, when one of them needs attention.
    @inline(__always)
    static func copyPlainShort(
        _ base: UnsafePointer<UInt8>, count: Int, to destination: UnsafeMutablePointer<UInt8>
    ) -> UnsafeMutablePointer<UInt8>? {
        let source = UnsafeRawPointer(base)
        let target = UnsafeMutableRawPointer(destination)
        if count >= 8 {
            let first = source.loadUnaligned(as: UInt64.self)
            let last = source.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            guard attention(first) | attention(last) == 0 else { return nil }
            target.storeBytes(of: first, as: UInt64.self)
            target.storeBytes(of: last, toByteOffset: count - 8, as: UInt64.self)
        } else if count >= 4 {
            let first = source.loadUnaligned(as: UInt32.self)
            let last = source.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
            guard attention(UInt64(first) | UInt64(last) << 32) == 0 else { return nil }
            target.storeBytes(of: first, as: UInt32.self)
            target.storeBytes(of: last, toByteOffset: count - 4, as: UInt32.self)
        } else if count > 0 {
            let (first, middle, last) = (base[0], base[count / 2], base[count - 1])
            // Only the three bytes gathered count: the empty ones above would read as NUL.
            guard attention(UInt64(first) | UInt64(middle) << 8 | UInt64(last) << 16) & 0x80_8080 == 0 else { return nil }
            destination[0] = first
            destination[count / 2] = middle
            destination[count - 1] = last
        }
        return destination + count
    }

    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        @inline(__always)
        private static func loadVector(_ source: UnsafePointer<UInt8>) -> __m128i {
            _mm_loadu_si128(UnsafeRawPointer(source).assumingMemoryBound(to: __m128i.self))
        }

        @inline(__always)
        private static func storeVector(_ vector: __m128i, _ destination: UnsafeMutablePointer<UInt8>) {
            _mm_storeu_si128(UnsafeMutableRawPointer(destination).assumingMemoryBound(to: __m128i.self), vector)
        }
    #endif

    /// Writes the escape of a control character, quote or backslash (the only bytes from 0x20 up
    /// that it is given).
    @inline(__always)
    private static func escape(_ byte: UInt8, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        if byte >= 0x20 {
            // `"` or `\`, the common case: one two-byte store, no table.
            UnsafeMutableRawPointer(output).storeBytes(of: (UInt16(byte) << 8 | UInt16(UInt8.backslash)).littleEndian, as: UInt16.self)
            return output + 2
        }
        output[0] = .backslash
        switch byte {
        case .lineFeed: output[1] = UInt8(ascii: "n")
        case .carriageReturn: output[1] = UInt8(ascii: "r")
        case UInt8(ascii: "\t"): output[1] = UInt8(ascii: "t")
        case 0x08: output[1] = UInt8(ascii: "b")
        case 0x0C: output[1] = UInt8(ascii: "f")
        default:
            output[1] = UInt8(ascii: "u")
            output[2] = UInt8(ascii: "0")
            output[3] = UInt8(ascii: "0")
            output[4] = hexDigit(byte >> 4)
            output[5] = hexDigit(byte & 0xF)
            return output + 6
        }
        return output + 2
    }

    /// Copies the UTF-8 sequence at `start` (a byte ≥ 0x80), or writes U+FFFD for its ill-formed
    /// part, and advances `consumed` past it.
    @inline(__always)
    private static func writeSequence(
        at start: UnsafePointer<UInt8>, available: Int, to output: UnsafeMutablePointer<UInt8>, consumed: inout Int
    ) -> UnsafeMutablePointer<UInt8> {
        let sequence = utf8Sequence(at: start, available: available)
        consumed += sequence.length
        if sequence.isValid {
            output.update(from: start, count: sequence.length)
            return output + sequence.length
        }
        output[0] = 0xEF
        output[1] = 0xBF
        output[2] = 0xBD
        return output + 3
    }

    /// A word with the high bit set in exactly the bytes that need more than a copy: below 0x20,
    /// `"`, `\`, or non-ASCII. (Each test adds within seven bits, so no carry crosses a byte.)
    @inline(__always)
    static func attention(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let quotes = word ^ (ones &* UInt64(UInt8.quotationMark))
        let backslashes = word ^ (ones &* UInt64(UInt8.backslash))
        let isQuote = ~(((quotes & low7) &+ low7) | quotes)
        let isBackslash = ~(((backslashes & low7) &+ low7) | backslashes)
        let isControl = ~(((word & low7) &+ ones &* 0x60) | word)
        return (isQuote | isBackslash | isControl | word) & 0x8080_8080_8080_8080
    }

    /// The UTF-8 sequence starting at `start` (a byte ≥ 0x80): its length when well-formed, or the
    /// length of its maximal ill-formed subpart (at least 1), which becomes one U+FFFD.
    @inline(__always)
    static func utf8Sequence(at start: UnsafePointer<UInt8>, available: Int) -> (length: Int, isValid: Bool) {
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        let continuations: Int
        switch start[0] {
        case 0xC2...0xDF: continuations = 1
        case 0xE0: (continuations, low) = (2, 0xA0)
        case 0xE1...0xEC, 0xEE...0xEF: continuations = 2
        case 0xED: (continuations, high) = (2, 0x9F)
        case 0xF0: (continuations, low) = (3, 0x90)
        case 0xF1...0xF3: continuations = 3
        case 0xF4: (continuations, high) = (3, 0x8F)
        default: return (1, false)
        }
        var index = 1
        while index <= continuations {
            guard index < available, start[index] >= low, start[index] <= high else { return (index, false) }
            (low, high) = (0x80, 0xBF)
            index += 1
        }
        return (index, true)
    }

    @inline(__always)
    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}

extension UInt8 {
    static let quotationMark = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
}
