#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An incremental parser of `text/event-stream` bytes that follows the WHATWG HTML
/// "Server-sent events" interpretation rules exactly.
///
/// Feed it chunks of any size, split anywhere (inside a UTF-8 sequence, between CR and LF, inside
/// the BOM); the outputs are the same as for the whole stream at once. Call `endOfStream()` when a
/// connection ends: the unterminated block is discarded, its `id` is not committed, and the parser is
/// ready for the next connection with `lastEventId` and `reconnectionTime` kept.
///
/// Invariants: memory held is bounded by `limits` (one line plus one event's data); once a limit
/// error is thrown the parser stays failed, rethrowing it, until `endOfStream()`.
public struct EventStreamParser: Sendable {

    public var limits: Limits
    /// Whether comment lines are reported as `.comment`; browsers ignore them.
    public var reportsComments: Bool

    /// The last event id committed by a dispatch; sent as `Last-Event-ID` when reconnecting.
    public private(set) var lastEventId: String
    /// The reconnection time from the last valid `retry` field, in milliseconds.
    public private(set) var reconnectionTime: Int?
    /// The 1-based number of the line being read, counted across the current stream.
    public private(set) var lineNumber = 1

    private var pendingLine: [UInt8] = []
    /// The data buffer: the first line alone as text (when events are materialised), or all lines
    /// joined with LF as bytes. `dataSize` counts the spec's buffer, LFs included.
    private var firstDataLine = ""
    private var firstDataLineIsText = false
    private var joinedData: [UInt8] = []
    private var dataLineCount = 0
    private var dataSize = 0
    // The event type and id buffers, as text when events are materialised…
    private var typeBuffer = ""
    /// The last type read; streams repeat a few types, so reusing it saves decoding one per event.
    private var lastType = ""
    private var idBuffer: String
    // …and as bytes in the `.bytes` form (`parsesToBytes`); `lastEventId` then follows
    // `lastEventIdBytes` at the end of each chunk. `idBytes` only counts while `idBufferChanged`.
    private var typeBytes: [UInt8] = []
    private var idBytes: [UInt8] = []
    private var lastEventIdBytes: [UInt8] = []
    private var lastEventIdIsBehind = false
    /// The form fixed at `init`: what the parse calls hand over, and so which buffers hold the block.
    public let form: Form
    private let parsesToBytes: Bool
    private var idBufferChanged = false
    private var blockRetry: Int?
    private var sawCarriageReturn = false
    /// Output bytes set aside per input byte for the line forms; doubled when a chunk's lines
    /// outgrow it (small events expand more).
    private var lineRoomPerInputByte = 2
    private var atStreamStart = true
    private var failure: EventStreamError?
    /// Whether the line forms use `VectorBlocks` where the processor has it; tests turn it off to
    /// check the Swift paths on their own.
    var usesVectorBlocks = true

    /// A parser for one form (`.events` for `parse(_:_:)`, `.bytes` for the JSON lines and borrowed
    /// events), with `lastEventId` as the id a stream resumed from.
    public init(form: Form = .events, limits: Limits = Limits(), reportsComments: Bool = false, lastEventId: String = "") {
        self.form = form
        self.parsesToBytes = form == .bytes
        if form == .bytes { lastEventIdBytes = Array(lastEventId.utf8) }
        self.limits = limits
        self.reportsComments = reportsComments
        self.lastEventId = lastEventId
        self.idBuffer = lastEventId
    }

    /// Parses one chunk, calling `output` for everything it completes, in order.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer, _ output: (consuming Output) -> Void) throws(EventStreamError) {
        try withoutActuallyEscaping(output) { (output) throws(EventStreamError) in
            var sink = OutputSink(output: output)
            try scan(chunk, into: &sink)
        }
    }

    /// Parses one chunk and appends what it completes to `lines` as JSON lines (the form of
    /// `EventJSONLine`), byte for byte what `parse` followed by `appendJSONLine` gives, but encoded
    /// straight from the bytes read: no string is made for an event's data.
    ///
    /// A retry is only written as a line; `reconnectionTime` holds the latest after the call.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer, appendingJSONLinesTo lines: inout [UInt8]) throws(EventStreamError) {
        try parse(chunk, appending: .json, to: &lines)
    }

    /// Parses one chunk and appends what it completes to `lines` as the text `drip connect` prints,
    /// byte for byte what `parse` followed by `appendTextLines` gives, controls escaped for a terminal
    /// (`TerminalText`) in the same pass, with no string made for an event's data.
    ///
    /// A retry is only written as a line; `reconnectionTime` holds the latest after the call.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer, appendingTextLinesTo lines: inout [UInt8]) throws(EventStreamError) {
        try parse(chunk, appending: .text, to: &lines)
    }

    /// Parses one chunk, appending what it completes to `lines` in `form`.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer, appending form: LineForm, to lines: inout [UInt8]) throws(EventStreamError) {
        let estimate = lineRoomPerInputByte * chunk.count + 1024
        guard lines.isEmpty else {
            var sink = LineSink(form: form, capacity: estimate, vectorBlocks: usesVectorBlocks)
            defer { sink.appendLines(to: &lines) }
            return try scan(chunk, into: &sink)
        }
        // The usual call, with nothing before: the lines are written straight into a new array,
        // not copied into it, unless they outgrow the room estimated for them.
        var failure: EventStreamError?
        var outgrown: [UInt8] = []
        lines = [UInt8](unsafeUninitializedCapacity: estimate) { storage, initialized in
            var sink = LineSink(form: form, writingInto: storage, vectorBlocks: usesVectorBlocks)
            do throws(EventStreamError) { try scan(chunk, into: &sink) } catch { failure = error }
            if sink.isInGivenStorage {
                initialized = sink.count
            } else {
                sink.appendLines(to: &outgrown)
                initialized = 0
            }
        }
        if !outgrown.isEmpty {
            lines = outgrown
            lineRoomPerInputByte = min(2 * lineRoomPerInputByte, 16)
        }
        if let failure { throw failure }
    }

    /// Parses one chunk, handing each event it completes to `event` as bytes, in order: the same
    /// events `parse(_:_:)` makes, without making a string for any of them — for a reader that only
    /// looks at events (a load generator). A `retry` only updates `reconnectionTime`; comments are
    /// not reported.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer, borrowingEvents event: (BorrowedEvent) -> Void) throws(EventStreamError) {
        try withoutActuallyEscaping(event) { (event) throws(EventStreamError) in
            var sink = BorrowedEventSink(event: event)
            try scan(chunk, into: &sink)
        }
    }

    private mutating func scan<Sink: ParserSink & ~Copyable>(_ chunk: UnsafeRawBufferPointer, into sink: inout Sink) throws(EventStreamError) {
        if let failure { throw failure }
        precondition(parsesToBytes != Sink.materialisesEvents, "an EventStreamParser of the \(form) form was asked for the other; make one per form")
        var fields: ChunkFields? = ChunkFields()
        defer { if !Sink.materialisesEvents { settle(fields) } }
        let bytes = chunk.bindMemory(to: UInt8.self)
        var scanner = LineEndScanner(chunk)
        var index = 0
        let count = bytes.count
        if sawCarriageReturn, count > 0 {
            sawCarriageReturn = false
            if bytes[0] == .lineFeed { index = 1 }
        }
        while index < count {
            if !Sink.materialisesEvents, atCleanBlockStart(fields) {
                index = writeSimpleBlocks(bytes, from: index, &scanner, &fields, &sink)
                if index == count { break }
            }
            guard let end = scanner.lineEnd(from: index) else {
                let tail = count - index
                if pendingLine.count + tail > limits.maxLineLength {
                    return try fail(.lineTooLong(line: lineNumber, limit: limits.maxLineLength))
                }
                pendingLine.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<count]))
                return
            }
            let length = end - index
            if pendingLine.count + length > limits.maxLineLength {
                return try fail(.lineTooLong(line: lineNumber, limit: limits.maxLineLength))
            }
            if pendingLine.isEmpty {
                try process(line: UnsafeBufferPointer(rebasing: bytes[index..<end]), inChunk: &fields, &sink)
            } else {
                var line = pendingLine
                pendingLine = []
                line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
                var noFields: ChunkFields? = nil
                try line.withUnsafeBufferPointer { (line) throws(EventStreamError) in try process(line: line, inChunk: &noFields, &sink) }
                line.removeAll(keepingCapacity: true)
                pendingLine = line
            }
            lineNumber += 1
            index = end + 1
            if bytes[end] == .carriageReturn {
                if index == count {
                    sawCarriageReturn = true
                } else if bytes[index] == .lineFeed {
                    index += 1
                }
            }
        }
    }

    /// Whether nothing of a block has been read yet (byte form, a line that lies in the chunk).
    @inline(__always)
    private func atCleanBlockStart(_ fields: ChunkFields?) -> Bool {
        dataLineCount == 0 && !idBufferChanged && blockRetry == nil && !atStreamStart && pendingLine.isEmpty && typeBytes.isEmpty
            && fields != nil && fields?.type == nil
    }

    /// The byte form's fast path, from a clean block start: whole blocks made only of an `event`
    /// line, an `id` line (without NUL) and one `data` line, in any order, each at most once, ended
    /// by LF, CRLF or CR and within the limits, are written straight to `sink` with no other bookkeeping, the
    /// way `process` and `dispatch` would write them. At each block the sink's own faster path
    /// (`SimpleBlocks`, for the line forms) goes first. Returns the start of the first block it does
    /// not take (left to `process`, line by line, with the scanner rewound to it).
    @inline(__always)
    private mutating func writeSimpleBlocks<Sink: ParserSink & ~Copyable>(
        _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ scanner: inout LineEndScanner, _ fields: inout ChunkFields?,
        _ sink: inout Sink
    ) -> Int {
        guard let base = bytes.baseAddress else { return start }
        let committedBytes = lastEventIdBytes
        return committedBytes.withUnsafeBufferPointer { committedBytes in
            let defaultType = UnsafeBufferPointer(start: Self.defaultType.utf8Start, count: Self.defaultType.utf8CodeUnitCount)
            var committed = fields?.lastEventId ?? committedBytes
            var sawId = false
            var blockStart = start
            var lines = 0
            var linesEndWithCarriageReturns = false
            blocks: while true {
                if !linesEndWithCarriageReturns {
                    var fast = FastBlockProgress(position: blockStart, lastEventId: committed)
                    sink.writeSimpleBlocks(bytes, &fast, limits: limits)
                    linesEndWithCarriageReturns = fast.metCarriageReturn
                    if fast.position != blockStart {
                        (blockStart, committed) = (fast.position, fast.lastEventId)
                        sawId = sawId || fast.sawId
                        lines += fast.lines
                    }
                }
                var type: UnsafeBufferPointer<UInt8>?
                var id: UnsafeBufferPointer<UInt8>?
                var data: UnsafeBufferPointer<UInt8>?
                var position = blockStart
                var blockLines = 0
                while true {
                    guard let end = scanner.lineEnd(from: position), end - position <= limits.maxLineLength else { break blocks }
                    // The next line starts after LF, CRLF or a lone CR; a CR that ends the chunk is
                    // left to the general path, which remembers it.
                    var next = end + 1
                    if base[end] == .carriageReturn {
                        guard next < bytes.count else { break blocks }
                        if base[next] == .lineFeed { next += 1 }
                    }
                    blockLines += 1
                    if end == position {
                        position = next
                        break
                    }
                    let line = UnsafeBufferPointer(start: base + position, count: end - position)
                    switch base[position] {
                    case UInt8(ascii: "d"):
                        guard data == nil, let value = FieldRules.value(of: line, named: "data"), value.count < limits.maxEventSize else {
                            break blocks
                        }
                        data = value
                    case UInt8(ascii: "e"):
                        guard type == nil, let value = FieldRules.value(of: line, named: "event") else { break blocks }
                        type = value
                    case UInt8(ascii: "i"):
                        guard id == nil, let value = FieldRules.value(of: line, named: "id"), FieldRules.acceptsId(value) else { break blocks }
                        id = value
                    default:
                        break blocks
                    }
                    position = next
                }
                guard let data else { break blocks }
                if let id { committed = id }
                let eventType = type ?? defaultType
                sink.event(type: eventType.isEmpty ? defaultType : eventType, data: data, id: committed)
                sawId = sawId || id != nil
                lines += blockLines
                blockStart = position
            }
            if sawId {
                fields?.lastEventId = committed
                lastEventIdIsBehind = true
            }
            scanner.rewind(to: blockStart)
            lineNumber += lines
            return blockStart
        }
    }

    /// Ends the current stream: discards the unterminated block (its `id` is not committed) and clears
    /// any failure, keeping `lastEventId` and `reconnectionTime` for the next connection.
    public mutating func endOfStream() {
        pendingLine.removeAll()
        clearData()
        typeBuffer = ""
        typeBytes.removeAll(keepingCapacity: true)
        idBuffer = lastEventId
        idBufferChanged = false
        blockRetry = nil
        sawCarriageReturn = false
        atStreamStart = true
        failure = nil
        lineNumber = 1
    }

    private mutating func fail(_ error: EventStreamError) throws(EventStreamError) {
        failure = error
        pendingLine.removeAll()
        clearData()
        throw error
    }

    /// Interprets one line. `fields` is nil for a line assembled from several chunks, which must be
    /// copied; otherwise the byte form points at the line where it lies in the chunk.
    @inline(__always)
    private mutating func process<Sink: ParserSink & ~Copyable>(
        line fullLine: UnsafeBufferPointer<UInt8>, inChunk fields: inout ChunkFields?, _ sink: inout Sink
    ) throws(EventStreamError) {
        var line = fullLine
        if atStreamStart {
            atStreamStart = false
            if line.starts(with: FieldRules.byteOrderMark) { line = UnsafeBufferPointer(rebasing: line[3...]) }
        }
        guard let base = line.baseAddress, !line.isEmpty else { return dispatch(&fields, &sink) }
        if base[0] == .colon {
            if reportsComments { sink.comment(FieldRules.value(of: line, after: 0)) }
            return
        }
        switch base[0] {
        case UInt8(ascii: "d"):
            guard let value = FieldRules.value(of: line, named: "data") else { return }
            dataSize += value.count + 1
            if dataSize > limits.maxEventSize {
                try fail(.eventTooLarge(line: lineNumber, limit: limits.maxEventSize))
            }
            if Sink.materialisesEvents {
                appendData(value, firstLineAsText: true)
            } else if dataLineCount == 0, fields != nil {
                dataLineCount = 1
                fields?.data = value
            } else {
                if let data = fields?.data {
                    joinedData.append(contentsOf: data)
                    fields?.data = nil
                }
                appendData(value, firstLineAsText: false)
            }
        case UInt8(ascii: "e"):
            guard let value = FieldRules.value(of: line, named: "event") else { return }
            if Sink.materialisesEvents {
                if !ParserBytes.utf8(of: &lastType, equals: value) { lastType = ParserBytes.text(value) }
                typeBuffer = lastType
            } else if fields != nil {
                fields?.type = value
            } else {
                ParserBytes.replace(&typeBytes, with: value)
            }
        case UInt8(ascii: "i"):
            guard let value = FieldRules.value(of: line, named: "id") else { return }
            if FieldRules.acceptsId(value) {
                if Sink.materialisesEvents {
                    idBuffer = ParserBytes.text(value)
                } else if fields != nil {
                    fields?.id = value
                } else {
                    ParserBytes.replace(&idBytes, with: value)
                }
                idBufferChanged = true
            }
        case UInt8(ascii: "r"):
            guard let value = FieldRules.value(of: line, named: "retry") else { return }
            if let milliseconds = FieldRules.retryValue(value) {
                reconnectionTime = milliseconds
                blockRetry = milliseconds
                sink.retry(milliseconds)
            }
        default:
            break
        }
    }

    /// Adds a data line: a lone first line as text when events are materialised (the common case,
    /// one copy), otherwise every line as bytes in `joinedData`.
    private mutating func appendData(_ value: UnsafeBufferPointer<UInt8>, firstLineAsText: Bool) {
        dataLineCount += 1
        if dataLineCount == 1 {
            if firstLineAsText {
                firstDataLine = ParserBytes.text(value)
                firstDataLineIsText = true
            } else {
                joinedData.append(contentsOf: value)
            }
            return
        }
        if firstDataLineIsText {
            joinedData.append(contentsOf: firstDataLine.utf8)
            firstDataLine = ""
            firstDataLineIsText = false
        }
        joinedData.append(.lineFeed)
        joinedData.append(contentsOf: value)
    }

    private mutating func clearData() {
        if firstDataLineIsText {
            firstDataLine = ""
            firstDataLineIsText = false
        }
        if !joinedData.isEmpty {
            joinedData.removeAll(keepingCapacity: joinedData.capacity <= Self.retainedCapacity)
        }
        dataLineCount = 0
        dataSize = 0
    }

    private mutating func dispatch<Sink: ParserSink & ~Copyable>(_ fields: inout ChunkFields?, _ sink: inout Sink) {
        if idBufferChanged {
            idBufferChanged = false
            if Sink.materialisesEvents {
                lastEventId = idBuffer
            } else {
                if let id = fields?.id {
                    fields?.lastEventId = id
                    fields?.id = nil
                } else {
                    swap(&lastEventIdBytes, &idBytes)
                    fields?.lastEventId = nil
                }
                lastEventIdIsBehind = true
            }
        }
        let retry = blockRetry
        blockRetry = nil
        guard dataLineCount > 0 else {
            if Sink.materialisesEvents {
                typeBuffer = ""
            } else {
                fields?.type = nil
                if !typeBytes.isEmpty { typeBytes.removeAll(keepingCapacity: true) }
            }
            return
        }
        if Sink.materialisesEvents {
            // Move the buffers into the event instead of copying them: no reference counting per event.
            var type = ""
            swap(&type, &typeBuffer)
            if type.isEmpty { type = ServerSentEvent.defaultType }
            var data = ""
            if firstDataLineIsText { swap(&data, &firstDataLine) } else { data = ParserBytes.text(joinedData) }
            clearData()
            sink.event(ServerSentEvent(data: consume data, type: consume type, id: lastEventId, retry: retry))
            return
        }
        let defaultType = UnsafeBufferPointer(start: Self.defaultType.utf8Start, count: Self.defaultType.utf8CodeUnitCount)
        let none = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        if let type = fields?.type ?? (typeBytes.isEmpty ? none : nil), let data = fields?.data ?? (joinedData.isEmpty ? none : nil),
            let id = fields?.lastEventId ?? (lastEventIdBytes.isEmpty ? none : nil)
        {
            // The common case: everything lies in the chunk or is empty; no buffer of the parser's is touched.
            sink.event(type: type.isEmpty ? defaultType : type, data: data, id: id)
        } else {
            ParserBytes.withBytes(fields?.type, else: typeBytes) { type in
                ParserBytes.withBytes(fields?.data, else: joinedData) { data in
                    ParserBytes.withBytes(fields?.lastEventId, else: lastEventIdBytes) { id in
                        sink.event(type: type.isEmpty ? defaultType : type, data: data, id: id)
                    }
                }
            }
        }
        fields?.type = nil
        fields?.data = nil
        if !typeBytes.isEmpty { typeBytes.removeAll(keepingCapacity: true) }
        clearData()
    }

    /// At the end of a chunk (byte form): copies what `fields` still points at into the parser's
    /// own buffers, and brings `lastEventId` up to date.
    private mutating func settle(_ fields: ChunkFields?) {
        if let type = fields?.type { ParserBytes.replace(&typeBytes, with: type) }
        if let id = fields?.id { ParserBytes.replace(&idBytes, with: id) }
        if let committed = fields?.lastEventId { ParserBytes.replace(&lastEventIdBytes, with: committed) }
        if let data = fields?.data, dataLineCount > 0 { joinedData.append(contentsOf: data) }
        if lastEventIdIsBehind {
            lastEventId = ParserBytes.text(lastEventIdBytes)
            lastEventIdIsBehind = false
        }
    }

    private static let defaultType: StaticString = "message"

    /// Buffers larger than this are released after each event, so one huge event does not pin memory.
    private static let retainedCapacity = 64 << 10

}
