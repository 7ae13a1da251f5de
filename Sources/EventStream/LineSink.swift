#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a stream's events, retries and comments as lines of one `EventStreamParser.LineForm` into a
/// buffer of its own, grown as needed and handed over with one copy (`appendLines(to:)`):
/// `{"type":…,"data":…,"lastEventId":…}`, `{"retry":N}` and `{"comment":…}` in JSON, or what
/// `drip connect` prints in text (`type id=ID: data`, `retry N ms`, `: comment`).
struct LineSink: ParserSink, ~Copyable {
    let form: EventStreamParser.LineForm
    private var start: UnsafeMutablePointer<UInt8>
    private var end: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// False while writing into storage the caller owns (and frees).
    private var ownsStorage: Bool
    /// Whether `VectorBlocks` goes first: where the processor has it, unless the parser says not
    /// (tests check `SimpleBlocks` on its own), until it cannot take a block.
    private var usesVectorBlocks: Bool

    init(form: EventStreamParser.LineForm, capacity: Int, vectorBlocks: Bool = true) {
        self.form = form
        usesVectorBlocks = vectorBlocks && VectorBlocks.isAvailable
        self.capacity = capacity
        start = .allocate(capacity: capacity)
        end = start
        ownsStorage = true
    }

    /// Writes into `storage` until it is full, then moves what it wrote to storage of its own.
    init(form: EventStreamParser.LineForm, writingInto storage: UnsafeMutableBufferPointer<UInt8>, vectorBlocks: Bool = true) {
        self.form = form
        usesVectorBlocks = vectorBlocks && VectorBlocks.isAvailable
        if let base = storage.baseAddress {
            start = base
            capacity = storage.count
            ownsStorage = false
        } else {
            capacity = 256
            start = .allocate(capacity: capacity)
            ownsStorage = true
        }
        end = start
    }

    deinit { if ownsStorage { start.deallocate() } }

    /// Whether everything written is still in the storage given to `init(writingInto:)`.
    var isInGivenStorage: Bool { !ownsStorage }
    var count: Int { start.distance(to: end) }

    func appendLines(to lines: inout [UInt8]) {
        lines.append(contentsOf: UnsafeBufferPointer(start: start, count: start.distance(to: end)))
    }

    static var materialisesEvents: Bool { false }

    /// Not called: this sink takes events as bytes.
    func event(_ event: consuming ServerSentEvent) {}

    mutating func event(type: UnsafeBufferPointer<UInt8>, data: UnsafeBufferPointer<UInt8>, id: UnsafeBufferPointer<UInt8>) {
        switch form {
        case .json: jsonEvent(type: type, data: data, id: id)
        case .text: textEvent(type: type, data: data, id: id)
        }
    }

    /// Blocks of the commonest shape go through `VectorBlocks` (where the processor has it, unless
    /// `usesVectorBlocks` is off), then `SimpleBlocks` from the first block it leaves, with the room
    /// doubled whenever the next block might not fit. When `VectorBlocks` takes fewer than two blocks
    /// before one it cannot take, it is not offered the chunk's later blocks: they are likely of that
    /// other shape (several data lines, say) as often, and the parser offers each such block in turn,
    /// so asking again would cost a failed attempt per block (a third more time for such a stream).
    mutating func writeSimpleBlocks(_ bytes: UnsafeBufferPointer<UInt8>, _ progress: inout FastBlockProgress, limits: EventStreamParser.Limits) {
        if usesVectorBlocks {
            var blocks = 0
            while true {
                let run = VectorBlocks.write(form, bytes, &progress, output: &end, outputLimit: start + capacity, limits: limits)
                blocks &+= run.blocks
                guard run.needsRoom else { break }
                reserve(capacity &+ 1)
            }
            if blocks < 2 { usesVectorBlocks = false }
        }
        while true {
            let needsRoom =
                switch form {
                case .json: SimpleBlocks.write(JSONBlockForm.self, bytes, &progress, output: &end, outputLimit: start + capacity, limits: limits)
                case .text: SimpleBlocks.write(TextBlockForm.self, bytes, &progress, output: &end, outputLimit: start + capacity, limits: limits)
                }
            guard needsRoom else { return }
            reserve(capacity &+ 1)
        }
    }

    mutating func retry(_ milliseconds: Int) {
        let digits = String(milliseconds)
        reserve(16 + digits.utf8.count)
        var output = ParserBytes.copy(form == .json ? #"{"retry":"# : "retry ", to: end)
        for digit in digits.utf8 {
            output.pointee = digit
            output += 1
        }
        end = ParserBytes.copy(form == .json ? "}\n" : " ms\n", to: output)
    }

    mutating func comment(_ text: UnsafeBufferPointer<UInt8>) {
        switch form {
        case .json:
            reserve(16 + JSONStringEscaper.maximumLength(of: text.count))
            let output = ParserBytes.copy(#"{"comment":""#, to: end)
            end = ParserBytes.copy("\"}\n", to: JSONStringEscaper.write(text, to: output))
        case .text:
            reserve(3 + TerminalText.maximumLength(of: text.count))
            let output = ParserBytes.copy(": ", to: end)
            end = ParserBytes.copy("\n", to: TerminalText.write(text, to: output))
        }
    }

    /// The line `JSONBlockForm` defines, every part escaped.
    @inline(__always)
    private mutating func jsonEvent(type: UnsafeBufferPointer<UInt8>, data: UnsafeBufferPointer<UInt8>, id: UnsafeBufferPointer<UInt8>) {
        reserve(Self.eventFramingLength + JSONStringEscaper.maximumLength(of: type.count + data.count + id.count))
        let output = JSONBlockForm.writeHead(type: LineValue(bytes: type), lastEventId: LineValue(bytes: id), to: end)
        end = JSONBlockForm.writeTail(lastEventId: LineValue(bytes: id), to: JSONStringEscaper.write(data, to: output))
    }

    /// `TextBlockForm`'s line, or its label (`type id=ID:`) then each data line indented by two
    /// spaces when the data has several.
    @inline(__always)
    private mutating func textEvent(type: UnsafeBufferPointer<UInt8>, data: UnsafeBufferPointer<UInt8>, id: UnsafeBufferPointer<UInt8>) {
        // Each data line feed becomes three bytes ("\n  "), within the six per byte set aside.
        reserve(16 + TerminalText.maximumLength(of: type.count + data.count + id.count))
        let (type, id) = (LineValue(bytes: type), LineValue(bytes: id))
        var lineEnd = Self.lineFeed(in: data, from: 0)
        guard lineEnd < data.count else {
            let output = TextBlockForm.writeHead(type: type, lastEventId: id, to: end)
            end = TextBlockForm.writeTail(lastEventId: id, to: TerminalText.write(data, to: output))
            return
        }
        var output = ParserBytes.copy(":", to: TextBlockForm.writeLabel(type: type, lastEventId: id, to: end))
        var lineStart = 0
        while true {
            output = ParserBytes.copy("\n  ", to: output)
            output = TerminalText.write(UnsafeBufferPointer(rebasing: data[lineStart..<lineEnd]), to: output)
            guard lineEnd < data.count else { break }
            lineStart = lineEnd + 1
            lineEnd = Self.lineFeed(in: data, from: lineStart)
        }
        end = ParserBytes.copy("\n", to: output)
    }

    /// The index of the first line feed in `bytes` from `start`, or `bytes.count`.
    @inline(__always)
    private static func lineFeed(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = bytes.baseAddress, start < bytes.count, let found = memchr(base + start, Int32(UInt8.lineFeed), bytes.count - start)
        else { return bytes.count }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
    }

    /// Computed rather than stored, so that no lazy initialisation is checked per event.
    private static var eventFramingLength: Int {
        let framing: StaticString = #"{"type":"","data":"","lastEventId":""}"#
        return framing.utf8CodeUnitCount + 1
    }

    /// Makes room for `count` more bytes after `end`.
    @inline(__always)
    private mutating func reserve(_ count: Int) {
        let used = start.distance(to: end)
        guard capacity - used < count else { return }
        capacity = max(2 * capacity, used + count)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.update(from: start, count: used)
        if ownsStorage { start.deallocate() }
        ownsStorage = true
        start = grown
        end = grown + used
    }
}
