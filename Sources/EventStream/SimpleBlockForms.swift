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

/// How one line form writes a block that `SimpleBlocks` takes: the parts around the data, sixteen
/// bytes of data at a time, and the form's escaper for the rest. Each writes exactly what
/// `LineSink.event` writes in that form.
protocol SimpleBlockForm {
    associatedtype Escaper: ByteEscaper
    /// What comes before the data. `type` is nil for `message`; `idIsHere` says that the last event
    /// id is a plain value read in this chunk (`SimpleBlocks.writeId`).
    static func writeHead(
        type: UnsafeBufferPointer<UInt8>?, lastEventId: UnsafeBufferPointer<UInt8>, idIsHere: Bool, to output: UnsafeMutablePointer<UInt8>
    ) -> UnsafeMutablePointer<UInt8>
    /// What comes after the data, its line end included.
    static func writeTail(
        lastEventId: UnsafeBufferPointer<UInt8>, idIsHere: Bool, to output: UnsafeMutablePointer<UInt8>
    ) -> UnsafeMutablePointer<UInt8>
    /// Copies the sixteen bytes at `input` (all readable), up to a line feed, escaped, when the form
    /// can do so at vector speed; writes at most 48 bytes.
    static func writeData16(from input: UnsafePointer<UInt8>, to output: UnsafeMutablePointer<UInt8>) -> DataStep
}

extension SimpleBlocks {
    /// The last event id: copied when it is a plain value read in this chunk, escaped otherwise.
    @inline(__always)
    static func writeId<Form: SimpleBlockForm>(
        _ id: UnsafeBufferPointer<UInt8>, isHere: Bool, in form: Form.Type, to output: UnsafeMutablePointer<UInt8>
    ) -> UnsafeMutablePointer<UInt8> {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
            if isHere, let start = id.baseAddress {
                store32(from: start, to: output)
                return output + id.count
            }
        #endif
        return Form.Escaper.write(id, to: output)
    }
}

/// `{"type":…,"data":…,"lastEventId":…}`: quotes and backslashes in the data are escaped in the
/// vector step; control bytes and non-ASCII go to `JSONStringEscaper`.
enum JSONBlockForm: SimpleBlockForm {
    typealias Escaper = JSONStringEscaper

    @inline(__always)
    static func writeHead(
        type: UnsafeBufferPointer<UInt8>?, lastEventId: UnsafeBufferPointer<UInt8>, idIsHere: Bool, to output: UnsafeMutablePointer<UInt8>
    ) -> UnsafeMutablePointer<UInt8> {
        let out = SimpleBlocks.writeType(type, to: ParserBytes.copy(#"{"type":""#, to: output))
        return ParserBytes.copy(#"","data":""#, to: out)
    }

    @inline(__always)
    static func writeTail(
        lastEventId: UnsafeBufferPointer<UInt8>, idIsHere: Bool, to output: UnsafeMutablePointer<UInt8>
    ) -> UnsafeMutablePointer<UInt8> {
        let out = ParserBytes.copy(#"","lastEventId":""#, to: output)
        return ParserBytes.copy("\"}\n", to: SimpleBlocks.writeId(lastEventId, isHere: idIsHere, in: Self.self, to: out))
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
    static func writeHead(
        type: UnsafeBufferPointer<UInt8>?, lastEventId: UnsafeBufferPointer<UInt8>, idIsHere: Bool, to output: UnsafeMutablePointer<UInt8>
    ) -> UnsafeMutablePointer<UInt8> {
        var out = SimpleBlocks.writeType(type, to: output)
        if !lastEventId.isEmpty {
            out = SimpleBlocks.writeId(lastEventId, isHere: idIsHere, in: Self.self, to: ParserBytes.copy(" id=", to: out))
        }
        return ParserBytes.copy(": ", to: out)
    }

    @inline(__always)
    static func writeTail(
        lastEventId: UnsafeBufferPointer<UInt8>, idIsHere: Bool, to output: UnsafeMutablePointer<UInt8>
    ) -> UnsafeMutablePointer<UInt8> {
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
