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

/// The line forms' fast path for the commonest block (where the processor has AVX-512 VBMI2,
/// `VectorBlocks` takes such blocks first, and this goes on from the first it leaves): an `id:` line
/// and an `event:` line (either, both or neither, in either order, each line under 32 bytes of
/// printable ASCII other than `"` and `\`, so no NUL), then one `data:` line, then the blank line,
/// every line ended by LF alone. Such
/// blocks are written in one pass over their bytes: the data is copied and escaped sixteen bytes at a
/// time while its line end is looked for, instead of a scan for the end and a second pass to escape.
///
/// It writes exactly what `LineSink.event` writes for the same block, and takes only whole blocks
/// that start at least 64 bytes before the end of the chunk (so every load stays inside it). It
/// stops at the start of the first block it does not take (any other shape, a CR, a limit reached),
/// which the general path then reads; so it changes how fast a block is written, never what.
/// SSE2 on x86-64; elsewhere it takes no block.
enum SimpleBlocks {
    /// Writes the blocks from `progress.position` on at `output` in `Form`, moving both past each
    /// block written. Returns whether it stopped because the next block might not fit before
    /// `outputLimit`.
    static func write<Form: SimpleBlockForm>(
        _ form: Form.Type, _ input: UnsafeBufferPointer<UInt8>, _ progress: inout FastBlockProgress,
        output written: inout UnsafeMutablePointer<UInt8>, outputLimit: UnsafeMutablePointer<UInt8>, limits: EventStreamParser.Limits
    ) -> Bool {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
            guard let base = input.baseAddress else { return false }
            let count = input.count
            var position = progress.position
            var output = written
            var lastId = progress.lastEventId
            // Whether `lastId` is a value read here: plain, under 32 bytes, with 32 bytes readable.
            var lastIdIsHere = false
            var sawId = progress.sawId
            var lines = progress.lines
            defer {
                (progress.position, progress.lastEventId, progress.sawId, progress.lines) = (position, lastId, sawId, lines)
                written = output
            }
            let lineFeed = _mm_set1_epi8(CChar(bitPattern: .lineFeed))
            while true {
                // The id and event lines, until the data line.
                var cursor = position
                var (typeStart, typeLength, idStart, idLength) = (0, -1, 0, -1)
                var headerLines = 0
                while true {
                    guard count &- cursor >= 64 else { return false }
                    let word = UnsafeRawPointer(base + cursor).loadUnaligned(as: UInt64.self)
                    if word & 0xFF_FFFF_FFFF == Self.dataName { break }
                    let isId = word & 0xFF_FFFF == Self.idName
                    guard isId ? idLength < 0 : word & 0xFFFF_FFFF_FFFF == Self.eventName && typeLength < 0 else { return false }
                    // The first sixteen bytes, then the next sixteen only for a longer line.
                    let first = load(base + cursor)
                    var feeds = UInt32(truncatingIfNeeded: _mm_movemask_epi8(_mm_cmpeq_epi8(first, lineFeed)))
                    var special = UInt32(truncatingIfNeeded: _mm_movemask_epi8(notPlain(first)))
                    if feeds == 0 {
                        let second = load(base + (cursor &+ 16))
                        feeds = UInt32(truncatingIfNeeded: _mm_movemask_epi8(_mm_cmpeq_epi8(second, lineFeed))) &<< 16
                        special |= UInt32(truncatingIfNeeded: _mm_movemask_epi8(notPlain(second))) &<< 16
                        guard feeds != 0 else { return false }
                    }
                    let lineLength = Int(feeds.trailingZeroBitCount)
                    let before = (1 &<< UInt32(lineLength)) &- 1
                    guard special & before == 0, lineLength <= limits.maxLineLength else {
                        let returns = _mm_movemask_epi8(_mm_cmpeq_epi8(first, _mm_set1_epi8(CChar(bitPattern: .carriageReturn))))
                        progress.metCarriageReturn = UInt32(truncatingIfNeeded: returns) & before != 0
                        return false
                    }
                    let nameLength = isId ? 3 : 6
                    let valueStart = cursor &+ nameLength &+ (base[cursor &+ nameLength] == .space ? 1 : 0)
                    let valueLength = cursor &+ lineLength &- valueStart
                    if isId { (idStart, idLength) = (valueStart, valueLength) } else { (typeStart, typeLength) = (valueStart, valueLength) }
                    cursor &+= lineLength &+ 1
                    headerLines &+= 1
                }
                let blockId = idLength >= 0 ? UnsafeBufferPointer(start: base + idStart, count: idLength) : lastId
                let idIsHere = idLength >= 0 || lastIdIsHere
                // Room for everything but the data, which is checked as it is written.
                let partsRoom = 128 &+ (idIsHere ? 32 : Form.Escaper.maximumLength(of: blockId.count))
                guard outputLimit - output >= partsRoom else { return true }
                let type =
                    typeLength > 0
                    ? LineValue(bytes: UnsafeBufferPointer(start: base + typeStart, count: typeLength), isPlainInChunk: true)
                    : LineValue(bytes: UnsafeBufferPointer(start: Self.defaultType.utf8Start, count: Self.defaultType.utf8CodeUnitCount))
                let lastEventId = LineValue(bytes: blockId, isPlainInChunk: idIsHere)
                var out = Form.writeHead(type: type, lastEventId: lastEventId, to: output)
                let dataStart = cursor &+ 5 &+ (base[cursor &+ 5] == .space ? 1 : 0)
                var index = dataStart
                var lineEnd = -1
                // Each step reads 32 bytes at most and writes 48 at most.
                let lastStepStart = count &- 32
                let lastStepOutput = outputLimit - (48 &+ partsRoom)
                while index <= lastStepStart {
                    guard out <= lastStepOutput else { return true }
                    let step = Form.writeData16(from: base + index, to: out)
                    guard step.consumed >= 0 else { break }
                    index &+= step.consumed
                    out += step.written
                    if step.consumed < 16 {
                        lineEnd = index
                        break
                    }
                }
                if lineEnd < 0 {
                    // Something the vector step leaves, or near the end: the rest of the line through
                    // the form's escaper (the bytes before were ASCII, so no UTF-8 sequence is cut).
                    guard let found = memchr(base + index, Int32(UInt8.lineFeed), count &- index) else { return false }
                    lineEnd = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
                    guard memchr(base + index, Int32(UInt8.carriageReturn), lineEnd &- index) == nil else {
                        progress.metCarriageReturn = true
                        return false
                    }
                    guard outputLimit - out >= Form.Escaper.maximumLength(of: lineEnd &- index) &+ partsRoom else { return true }
                    out = Form.Escaper.write(UnsafeBufferPointer(start: base + index, count: lineEnd &- index), to: out)
                }
                // The block must end here, within the limits; otherwise the general path reads it.
                guard lineEnd &+ 1 < count, base[lineEnd &+ 1] == .lineFeed, lineEnd &- cursor <= limits.maxLineLength,
                    lineEnd &- dataStart < limits.maxEventSize
                else { return false }
                output = Form.writeTail(lastEventId: lastEventId, to: out)
                if idLength >= 0 {
                    (lastId, lastIdIsHere, sawId) = (blockId, true, true)
                }
                lines &+= headerLines &+ 2
                position = lineEnd &+ 2
            }
        #else
            return false
        #endif
    }

    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        @inline(__always)
        static func load(_ source: UnsafePointer<UInt8>) -> __m128i {
            _mm_loadu_si128(UnsafeRawPointer(source).assumingMemoryBound(to: __m128i.self))
        }

        @inline(__always)
        static func store(_ vector: __m128i, _ destination: UnsafeMutablePointer<UInt8>) {
            _mm_storeu_si128(UnsafeMutableRawPointer(destination).assumingMemoryBound(to: __m128i.self), vector)
        }

        /// Copies 32 bytes, of which the caller keeps the first few.
        @inline(__always)
        static func store32(from source: UnsafePointer<UInt8>, to destination: UnsafeMutablePointer<UInt8>) {
            store(load(source), destination)
            store(load(source + 16), destination + 16)
        }

        /// The index of the first line feed among the sixteen bytes, or 16.
        @inline(__always)
        static func lineFeedOrSixteen(_ vector: __m128i) -> Int {
            let feeds = _mm_movemask_epi8(_mm_cmpeq_epi8(vector, _mm_set1_epi8(CChar(bitPattern: .lineFeed))))
            return Int((feeds | 0x1_0000).trailingZeroBitCount)
        }

        /// The bytes a header value may not hold: below 0x20, from 0x80 up (a signed comparison),
        /// DEL, `"` and `\` — what either form would escape.
        @inline(__always)
        private static func notPlain(_ vector: __m128i) -> __m128i {
            let quoted = _mm_or_si128(
                _mm_cmpeq_epi8(vector, _mm_set1_epi8(CChar(bitPattern: .quotationMark))),
                _mm_cmpeq_epi8(vector, _mm_set1_epi8(CChar(bitPattern: .backslash))))
            let controls = _mm_or_si128(_mm_cmplt_epi8(vector, _mm_set1_epi8(0x20)), _mm_cmpeq_epi8(vector, _mm_set1_epi8(0x7F)))
            return _mm_or_si128(quoted, controls)
        }
    #endif

    // The field names with their colons, as the little-endian words that start such lines
    // (computed rather than stored, so that no lazy initialisation is checked per line).
    private static var dataName: UInt64 { 0x3A_6174_6164 }  // "data:"
    private static var idName: UInt64 { 0x3A_6469 }  // "id:"
    private static var eventName: UInt64 { 0x3A74_6E65_7665 }  // "event:"
    private static var defaultType: StaticString { "message" }
}

/// What one vector step of the data copied: `consumed` input bytes (16, or fewer when the line
/// feed came, which ends the data), `written` output bytes; `consumed` is -1 when the step leaves
/// the rest of the line to the form's escaper.
struct DataStep {
    var consumed: Int
    var written: Int
}
