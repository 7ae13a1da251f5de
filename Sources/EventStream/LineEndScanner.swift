#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    import _Builtin_intrinsics.intel
#endif

/// Finds line ends in one chunk. On x86-64, the line breaks of 64 bytes at a time are found with
/// SSE2 and kept as a bit mask, so that the next few short lines cost a shift each; otherwise, and
/// past the first 128 bytes of a line, it looks eight bytes at a time and then with libc's
/// vectorised `memchr`, remembering the next CR and the next LF so that each byte is scanned at
/// most once per kind, even when one kind is rare.
struct LineEndScanner {
    private let base: UnsafeRawPointer?
    private let count: Int
    private var nextLineFeed = -1
    private var nextCarriageReturn = -1
    /// Bit i is set when byte `windowStart + i` is a CR or LF, for i below `windowEnd - windowStart`.
    private var windowBreaks: UInt64 = 0
    private var windowStart = 0
    private var windowEnd = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        base = buffer.baseAddress
        count = buffer.count
    }

    /// The offset of the first CR or LF at or after `start`, if any. `start` never goes back, except
    /// after `rewind(to:)`.
    @inline(__always)
    mutating func lineEnd(from start: Int) -> Int? {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
            if let base {
                var position = start
                for _ in 0..<2 {
                    if position >= windowEnd {
                        guard position + 64 <= count else { break }
                        windowStart = position
                        windowEnd = position + 64
                        windowBreaks = Self.lineBreaks(in64: base + position)
                    }
                    let ahead = windowBreaks &>> UInt64(position - windowStart)
                    if ahead != 0 { return position + ahead.trailingZeroBitCount }
                    position = windowEnd
                }
                return lineEndByWords(from: position)
            }
        #endif
        return lineEndByWords(from: start)
    }

    /// Lets the next `lineEnd(from:)` start at `start`, earlier than the last one asked: the next CR
    /// and LF it remembers are forgotten, and its 64-byte window too when `start` lies before it
    /// (cheaper than copying the scanner to go back to).
    mutating func rewind(to start: Int) {
        if start < windowStart { windowEnd = 0 }
        nextLineFeed = -1
        nextCarriageReturn = -1
    }

    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        /// A mask of the CR and LF bytes among the 64 at `start`.
        @inline(__always)
        private static func lineBreaks(in64 start: UnsafeRawPointer) -> UInt64 {
            let lineFeed = _mm_set1_epi8(CChar(bitPattern: .lineFeed))
            let carriageReturn = _mm_set1_epi8(CChar(bitPattern: .carriageReturn))
            var mask: UInt64 = 0
            for part in 0..<4 {
                let vector = _mm_loadu_si128((start + 16 * part).assumingMemoryBound(to: __m128i.self))
                let breaks = _mm_or_si128(_mm_cmpeq_epi8(vector, lineFeed), _mm_cmpeq_epi8(vector, carriageReturn))
                mask |= UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(breaks))) &<< UInt64(16 * part)
            }
            return mask
        }
    #endif

    /// `lineEnd`, looking at the next 128 bytes a word at a time before paying for a call (unless
    /// a line end further on is already known).
    @inline(__always)
    private mutating func lineEndByWords(from start: Int) -> Int? {
        #if _endian(little)
            if let base {
                var offset = start
                let end = min(count, start + 128)
                if nextLineFeed < end, nextLineFeed >= start { return scan(from: start) }
                if nextCarriageReturn >= end {
                    // No CR before `end` (found by an earlier scan): look for LF alone.
                    while offset + 8 <= end {
                        if let found = Self.first(.lineFeed, in: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) {
                            return offset + found
                        }
                        offset += 8
                    }
                    return scan(from: offset)
                }
                while offset + 8 <= end {
                    if let found = Self.firstLineBreak(in: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) {
                        return offset + found
                    }
                    offset += 8
                }
                return scan(from: offset)
            }
        #endif
        return scan(from: start)
    }

    private mutating func scan(from start: Int) -> Int? {
        if nextLineFeed < start { nextLineFeed = find(.lineFeed, from: start) }
        if nextCarriageReturn < start { nextCarriageReturn = find(.carriageReturn, from: start) }
        let end = min(nextLineFeed, nextCarriageReturn)
        return end < count ? end : nil
    }

    /// The index of the first CR or LF byte in a little-endian word, found with SWAR arithmetic:
    /// a byte equal to the target becomes zero after XOR, and `(x - 1) & ~x` sets its high bit
    /// (borrows only travel upwards, so the lowest flagged byte is exact).
    @inline(__always)
    private static func firstLineBreak(in word: UInt64) -> Int? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let lineFeeds = word ^ (ones &* UInt64(UInt8.lineFeed))
        let carriageReturns = word ^ (ones &* UInt64(UInt8.carriageReturn))
        let found = ((lineFeeds &- ones) & ~lineFeeds | (carriageReturns &- ones) & ~carriageReturns) & 0x8080_8080_8080_8080
        return found == 0 ? nil : found.trailingZeroBitCount / 8
    }

    /// The index of the first `byte` in a little-endian word, found the same way.
    @inline(__always)
    private static func first(_ byte: UInt8, in word: UInt64) -> Int? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let matches = word ^ (ones &* UInt64(byte))
        let found = (matches &- ones) & ~matches & 0x8080_8080_8080_8080
        return found == 0 ? nil : found.trailingZeroBitCount / 8
    }

    private func find(_ byte: UInt8, from start: Int) -> Int {
        guard let base, start < count, let found = memchr(base + start, Int32(byte), count - start) else { return count }
        return base.distance(to: UnsafeRawPointer(found))
    }
}

extension UInt8 {
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let colon = UInt8(ascii: ":")
    static let space = UInt8(ascii: " ")
}
