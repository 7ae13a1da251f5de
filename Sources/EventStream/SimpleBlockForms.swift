#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    import _Builtin_intrinsics.intel
#endif

/// An escaper of one line form: `write` escapes bytes into `maximumLength(of: count)` bytes of room.
protocol ByteEscaper {
    static func maximumLength(of count: Int) -> Int
    static func write(_ bytes: UnsafeBufferPointer<UInt8>, to destination: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8>
}

extension JSONStringEscaper: ByteEscaper {}
extension TerminalText: ByteEscaper {}

/// A type or last event id to write: escaped, unless it is known to be plain bytes (under 32) that
/// lie in the chunk with 32 bytes readable, which are copied as two vectors.
struct LineValue {
    var bytes: UnsafeBufferPointer<UInt8>
    var isPlainInChunk = false

    @inline(__always)
    func write<Escaper: ByteEscaper>(escapedBy escaper: Escaper.Type, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
            if isPlainInChunk, let start = bytes.baseAddress {
                SimpleBlocks.store32(from: start, to: output)
                return output + bytes.count
            }
        #endif
        return Escaper.write(bytes, to: output)
    }
}

/// How one line form writes an event: the parts around the data (the one definition of the form's
/// line, which `LineSink` writes too), sixteen bytes of data at a time for `SimpleBlocks`, and the
/// form's escaper for the rest.
protocol SimpleBlockForm {
    associatedtype Escaper: ByteEscaper
    /// What comes before the data.
    static func writeHead(type: LineValue, lastEventId: LineValue, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8>
    /// What comes after the data, its line end included.
    static func writeTail(lastEventId: LineValue, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8>
    /// Copies the sixteen bytes at `input` (all readable), up to a line feed, escaped, when the form
    /// can do so at vector speed; writes at most 48 bytes.
    static func writeData16(from input: UnsafePointer<UInt8>, to output: UnsafeMutablePointer<UInt8>) -> DataStep
}

/// `{"type":…,"data":…,"lastEventId":…}`: quotes and backslashes in the data are escaped in the
/// vector step; control bytes and non-ASCII go to `JSONStringEscaper`.
enum JSONBlockForm: SimpleBlockForm {
    typealias Escaper = JSONStringEscaper

    @inline(__always)
    static func writeHead(type: LineValue, lastEventId: LineValue, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        let out = type.write(escapedBy: Escaper.self, to: ParserBytes.copy(#"{"type":""#, to: output))
        return ParserBytes.copy(#"","data":""#, to: out)
    }

    @inline(__always)
    static func writeTail(lastEventId: LineValue, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        let out = lastEventId.write(escapedBy: Escaper.self, to: ParserBytes.copy(#"","lastEventId":""#, to: output))
        return ParserBytes.copy("\"}\n", to: out)
    }

    @inline(__always)
    static func writeData16(from input: UnsafePointer<UInt8>, to output: UnsafeMutablePointer<UInt8>) -> DataStep {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
            let vector = SimpleBlocks.load(input)
            SimpleBlocks.store(vector, output)
            let quoted = _mm_movemask_epi8(
                _mm_or_si128(
                    _mm_cmpeq_epi8(vector, _mm_set1_epi8(CChar(bitPattern: .quotationMark))),
                    _mm_cmpeq_epi8(vector, _mm_set1_epi8(CChar(bitPattern: .backslash)))))
            // A signed comparison: below 0x20 (LF and CR among them) and from 0x80 up in one test.
            let controlOrHigh = _mm_movemask_epi8(_mm_cmplt_epi8(vector, _mm_set1_epi8(0x20)))
            if quoted | controlOrHigh == 0 { return DataStep(consumed: 16, written: 16) }
            var stop = 16
            var remaining = quoted
            if controlOrHigh != 0 {
                stop = SimpleBlocks.lineFeedOrSixteen(vector)
                let before: Int32 = (1 &<< Int32(stop)) &- 1
                guard controlOrHigh & before == 0 else { return DataStep(consumed: -1, written: 0) }
                remaining &= before
            }
            var inserted = 0
            while remaining != 0 {
                // A backslash goes before each, and the input from that byte on is stored again one
                // place further (each store reads the input, not the last store, so none waits).
                let at = Int(remaining.trailingZeroBitCount)
                output[at &+ inserted] = .backslash
                inserted &+= 1
                SimpleBlocks.store(SimpleBlocks.load(input + at), output + (at &+ inserted))
                remaining &= remaining &- 1
            }
            return DataStep(consumed: stop, written: stop &+ inserted)
        #else
            return DataStep(consumed: -1, written: 0)
        #endif
    }
}

/// `type id=ID: data` (the id part only when the last event id is not empty): printable ASCII is
/// copied in the vector step; everything else goes to `TerminalText`.
enum TextBlockForm: SimpleBlockForm {
    typealias Escaper = TerminalText

    @inline(__always)
    static func writeHead(type: LineValue, lastEventId: LineValue, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        ParserBytes.copy(": ", to: writeLabel(type: type, lastEventId: lastEventId, to: output))
    }

    /// `type id=ID`, before the colon: also the first line of an event whose data has several.
    @inline(__always)
    static func writeLabel(type: LineValue, lastEventId: LineValue, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        let out = type.write(escapedBy: Escaper.self, to: output)
        guard !lastEventId.bytes.isEmpty else { return out }
        return lastEventId.write(escapedBy: Escaper.self, to: ParserBytes.copy(" id=", to: out))
    }

    @inline(__always)
    static func writeTail(lastEventId: LineValue, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        ParserBytes.copy("\n", to: output)
    }

    @inline(__always)
    static func writeData16(from input: UnsafePointer<UInt8>, to output: UnsafeMutablePointer<UInt8>) -> DataStep {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
            let vector = SimpleBlocks.load(input)
            SimpleBlocks.store(vector, output)
            // Below 0x20 and from 0x80 up (a signed comparison), and DEL: not printable ASCII.
            let flagged = _mm_movemask_epi8(
                _mm_or_si128(_mm_cmplt_epi8(vector, _mm_set1_epi8(0x20)), _mm_cmpeq_epi8(vector, _mm_set1_epi8(0x7F))))
            if flagged == 0 { return DataStep(consumed: 16, written: 16) }
            let stop = SimpleBlocks.lineFeedOrSixteen(vector)
            guard flagged & ((1 &<< Int32(stop)) &- 1) == 0 else { return DataStep(consumed: -1, written: 0) }
            return DataStep(consumed: stop, written: stop)
        #else
            return DataStep(consumed: -1, written: 0)
        #endif
    }
}
