#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the ends of an event stream's blocks — the blank lines that dispatch events — in bytes as
/// they arrive, without decoding or holding them, so that a relay (drip's proxy) can pass each read
/// on at once and still know where each event ends: to stop right after one, leave one out, or
/// repeat one.
///
/// A block is every byte up to and including the line end of a blank line: the fields and comments
/// of one event (or none, for a lone blank line). Line ends are CR, LF or CRLF, as the parser reads
/// them. When a read ends between the CR and the LF of a blank line's CRLF, the LF arrives at the
/// start of the next block, and the piece holding it says so (`startsWithLineFeed`).
///
/// Invariant: the pieces handed out are the input, in order, byte for byte; each piece ends at a
/// block's end or at the end of the read. The splitter keeps three flags, never bytes.
public struct EventBlockSplitter: Sendable {
    /// Consecutive bytes of the input, borrowed for the duration of the callback.
    public struct Piece {
        /// The bytes.
        public let bytes: UnsafeRawBufferPointer
        /// The piece ends with the line end of a blank line: its block is complete.
        public let endsBlock: Bool
        /// The piece opens a block with the LF of a CRLF whose CR ended the block before.
        public let startsWithLineFeed: Bool
    }

    /// The current line has no byte yet (so a line end now ends a block).
    private var atLineStart = true
    /// The last byte seen was a CR ending a line, so an LF now completes it.
    private var afterCarriageReturn = false
    /// No byte of the current block has been handed out yet.
    private var atBlockStart = true

    public init() {}

    /// Hands `piece` the pieces of `bytes`: one per block it ends, and one for the rest of the read.
    public mutating func split(_ bytes: UnsafeRawBufferPointer, _ piece: (Piece) -> Void) {
        var start = 0
        var index = 0
        var startsWithLineFeed = false
        // The next LF and CR at or after `index` (`bytes.count` when none), found with memchr and
        // looked for again only once passed: the bytes between line ends are not visited one by one.
        var nextLineFeed = -1
        var nextCarriageReturn = -1
        while index < bytes.count {
            if nextLineFeed < index { nextLineFeed = Self.find(0x0A, in: bytes, from: index) }
            if nextCarriageReturn < index { nextCarriageReturn = Self.find(0x0D, in: bytes, from: index) }
            let lineEnd = min(nextLineFeed, nextCarriageReturn)
            if lineEnd > index {
                atLineStart = false
                afterCarriageReturn = false
                index = lineEnd
                if index == bytes.count { break }
            }
            let byte = bytes[index]
            index += 1
            if byte == 0x0A, afterCarriageReturn {
                // The LF of a CRLF: part of the line end already seen, not a line of its own.
                afterCarriageReturn = false
                if atBlockStart, index - 1 == start { startsWithLineFeed = true }
                continue
            }
            afterCarriageReturn = byte == 0x0D
            guard byte == 0x0A || byte == 0x0D else {
                atLineStart = false
                continue
            }
            guard atLineStart else {
                atLineStart = true
                continue
            }
            // A blank line ends the block; the LF of its CRLF goes with it when it is here already.
            if afterCarriageReturn, index < bytes.count, bytes[index] == 0x0A {
                index += 1
                afterCarriageReturn = false
            }
            piece(Piece(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), endsBlock: true, startsWithLineFeed: startsWithLineFeed))
            start = index
            startsWithLineFeed = false
            atBlockStart = true
        }
        if start < bytes.count {
            piece(Piece(bytes: UnsafeRawBufferPointer(rebasing: bytes[start...]), endsBlock: false, startsWithLineFeed: startsWithLineFeed))
            atBlockStart = false
        }
    }

    /// The index of the first `byte` in `bytes` at or after `start`; `bytes.count` when there is none.
    private static func find(_ byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        guard let base = bytes.baseAddress, start < bytes.count,
            let found = memchr(base + start, Int32(byte), bytes.count - start)
        else { return bytes.count }
        return base.distance(to: UnsafeRawPointer(found))
    }
}
