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
    /// Bounds on what one line and one event may hold, in bytes.
    public struct Limits: Sendable, Hashable {
        /// The longest line accepted, not counting its terminator.
        public var maxLineLength: Int
        /// The largest event data accepted (the data buffer, lines joined with LF).
        public var maxEventSize: Int

        public init(maxLineLength: Int = 1 << 20, maxEventSize: Int = 8 << 20) {
            self.maxLineLength = max(1, maxLineLength)
            self.maxEventSize = max(1, maxEventSize)
        }

        /// As near a browser's as a bounded parser gets: browsers limit neither lines nor events, and
        /// peers that test clients (the SSE contract suite) send several megabytes in one line;
        /// 256 MiB each still stops a runaway stream.
        public static let browserLike = Limits(maxLineLength: 256 << 20, maxEventSize: 256 << 20)
    }

    /// What the stream produced, in stream order.
    public enum Output: Sendable, Hashable {
        /// A dispatched event, as `EventSource` would fire it.
        case event(ServerSentEvent)
        /// A valid `retry` field: the new reconnection time in milliseconds.
        case retry(Int)
        /// A comment line's text, without the colon and one leading space (only with `reportsComments`).
        case comment(String)
    }

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
    // …and as bytes when they are written as JSON lines (`parsesToBytes`); `lastEventId` then follows
    // `lastEventIdBytes` at the end of each chunk. `idBytes` only counts while `idBufferChanged`.
    private var typeBytes: [UInt8] = []
    private var idBytes: [UInt8] = []
    private var lastEventIdBytes: [UInt8] = []
    private var lastEventIdIsBehind = false
    private var parsesToBytes = false
    private var idBufferChanged = false
    private var blockRetry: Int?
    private var sawCarriageReturn = false
    /// Output bytes set aside per input byte for the JSON-line form; doubled when a chunk's lines
    /// outgrow it (small events expand more).
    private var jsonRoomPerInputByte = 2
    private var atStreamStart = true
    private var failure: EventStreamError?

    public init(limits: Limits = Limits(), reportsComments: Bool = false, lastEventId: String = "") {
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
        let estimate = jsonRoomPerInputByte * chunk.count + 1024
        guard lines.isEmpty else {
            var sink = JSONLineSink(capacity: estimate)
            defer { sink.appendLines(to: &lines) }
            return try scan(chunk, into: &sink)
        }
        // The usual call, with nothing before: the lines are written straight into a new array,
        // not copied into it, unless they outgrow the room estimated for them.
        var failure: EventStreamError?
        var outgrown: [UInt8] = []
        lines = [UInt8](unsafeUninitializedCapacity: estimate) { storage, initialized in
            var sink = JSONLineSink(writingInto: storage)
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
            jsonRoomPerInputByte = min(2 * jsonRoomPerInputByte, 16)
        }
        if let failure { throw failure }
    }

    /// One dispatched event as bytes: its type (`message` when the stream set none), its data (lines
    /// joined with LF) and the last event id. The buffers point into the chunk being parsed or into
    /// the parser's own, so they are valid only during the call that hands the event over.
    public struct BorrowedEvent {
        public let type: UnsafeBufferPointer<UInt8>
        public let data: UnsafeBufferPointer<UInt8>
        public let lastEventId: UnsafeBufferPointer<UInt8>
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
        if parsesToBytes == Sink.materialisesEvents { switchForm() }
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
    /// way `process` and `dispatch` would write them. Returns the start of the first block it does
    /// not take (left to `process`, line by line, with the scanner as it was there).
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
            var blockStart = start
            var lines = 0
            var scannerAtBlockStart = scanner
            blocks: while true {
                scannerAtBlockStart = scanner
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
                        guard data == nil, let value = Self.value(of: line, named: "data"), value.count < limits.maxEventSize else { break blocks }
                        data = value
                    case UInt8(ascii: "e"):
                        guard type == nil, let value = Self.value(of: line, named: "event") else { break blocks }
                        type = value
                    case UInt8(ascii: "i"):
                        guard id == nil, let value = Self.value(of: line, named: "id"), !value.contains(0) else { break blocks }
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
                if let id {
                    fields?.lastEventId = id
                    lastEventIdIsBehind = true
                }
                lines += blockLines
                blockStart = position
            }
            scanner = scannerAtBlockStart
            lineNumber += lines
            return blockStart
        }
    }

    /// Parses one chunk of any contiguous or non-contiguous byte collection.
    public mutating func parse(_ chunk: some Sequence<UInt8>, _ output: (consuming Output) -> Void) throws(EventStreamError) {
        let result =
            chunk.withContiguousStorageIfAvailable { buffer in
                Result { () throws(EventStreamError) in try parse(UnsafeRawBufferPointer(buffer), output) }
            }
            ?? Array(chunk).withUnsafeBytes { buffer in
                Result { () throws(EventStreamError) in try parse(buffer, output) }
            }
        try result.get()
    }

    /// Parses one chunk and returns what it completed.
    public mutating func parse(_ chunk: some Sequence<UInt8>) throws(EventStreamError) -> [Output] {
        var outputs: [Output] = []
        try parse(chunk) { outputs.append($0) }
        return outputs
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
            if line.starts(with: Self.byteOrderMark) { line = UnsafeBufferPointer(rebasing: line[3...]) }
        }
        guard let base = line.baseAddress, !line.isEmpty else { return dispatch(&fields, &sink) }
        if base[0] == .colon {
            if reportsComments { sink.comment(Self.value(of: line, after: 0)) }
            return
        }
        switch base[0] {
        case UInt8(ascii: "d"):
            guard let value = Self.value(of: line, named: "data") else { return }
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
            guard let value = Self.value(of: line, named: "event") else { return }
            if Sink.materialisesEvents {
                if !Self.utf8(of: &lastType, equals: value) { lastType = Self.text(value) }
                typeBuffer = lastType
            } else if fields != nil {
                fields?.type = value
            } else {
                Self.replace(&typeBytes, with: value)
            }
        case UInt8(ascii: "i"):
            guard let value = Self.value(of: line, named: "id") else { return }
            if !value.contains(0) {
                if Sink.materialisesEvents {
                    idBuffer = Self.text(value)
                } else if fields != nil {
                    fields?.id = value
                } else {
                    Self.replace(&idBytes, with: value)
                }
                idBufferChanged = true
            }
        case UInt8(ascii: "r"):
            guard let value = Self.value(of: line, named: "retry") else { return }
            if let milliseconds = Self.retryValue(value) {
                reconnectionTime = milliseconds
                blockRetry = milliseconds
                sink.retry(milliseconds)
            }
        default:
            break
        }
    }

    /// The field value after the colon at `colon`, without one leading space.
    @inline(__always)
    private static func value(of line: UnsafeBufferPointer<UInt8>, after colon: Int) -> UnsafeBufferPointer<UInt8> {
        var start = colon + 1
        if start < line.count, line[start] == .space { start += 1 }
        return UnsafeBufferPointer(rebasing: line[start...])
    }

    /// Adds a data line: a lone first line as text when events are materialised (the common case,
    /// one copy), otherwise every line as bytes in `joinedData`.
    private mutating func appendData(_ value: UnsafeBufferPointer<UInt8>, firstLineAsText: Bool) {
        dataLineCount += 1
        if dataLineCount == 1 {
            if firstLineAsText {
                firstDataLine = Self.text(value)
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
            if firstDataLineIsText { swap(&data, &firstDataLine) } else { data = Self.text(joinedData) }
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
            Self.withBytes(fields?.type, else: typeBytes) { type in
                Self.withBytes(fields?.data, else: joinedData) { data in
                    Self.withBytes(fields?.lastEventId, else: lastEventIdBytes) { id in
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

    /// `borrowed` when there is one, else the bytes of `owned` (without touching an empty array).
    @inline(__always)
    private static func withBytes(
        _ borrowed: UnsafeBufferPointer<UInt8>?, else owned: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        if let borrowed {
            body(borrowed)
        } else if owned.isEmpty {
            body(UnsafeBufferPointer(start: nil, count: 0))
        } else {
            owned.withUnsafeBufferPointer(body)
        }
    }

    /// At the end of a chunk (byte form): copies what `fields` still points at into the parser's
    /// own buffers, and brings `lastEventId` up to date.
    private mutating func settle(_ fields: ChunkFields?) {
        if let type = fields?.type { Self.replace(&typeBytes, with: type) }
        if let id = fields?.id { Self.replace(&idBytes, with: id) }
        if let committed = fields?.lastEventId { Self.replace(&lastEventIdBytes, with: committed) }
        if let data = fields?.data, dataLineCount > 0 { joinedData.append(contentsOf: data) }
        if lastEventIdIsBehind {
            lastEventId = Self.text(lastEventIdBytes)
            lastEventIdIsBehind = false
        }
    }

    /// Moves the type, id and data buffers to the other form (text or bytes), for a parser whose
    /// caller switches between `parse(_:_:)` and `parse(_:appendingJSONLinesTo:)` in mid-stream.
    private mutating func switchForm() {
        parsesToBytes.toggle()
        if parsesToBytes {
            typeBytes = Array(typeBuffer.utf8)
            typeBuffer = ""
            if idBufferChanged { idBytes = Array(idBuffer.utf8) }
            lastEventIdBytes = Array(lastEventId.utf8)
            if firstDataLineIsText {
                joinedData.append(contentsOf: firstDataLine.utf8)
                firstDataLine = ""
                firstDataLineIsText = false
            }
        } else {
            typeBuffer = Self.text(typeBytes)
            typeBytes.removeAll()
            if idBufferChanged { idBuffer = Self.text(idBytes) }
        }
    }

    @inline(__always)
    private static func replace(_ buffer: inout [UInt8], with bytes: UnsafeBufferPointer<UInt8>) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: bytes)
    }

    private static let defaultType: StaticString = "message"

    /// Buffers larger than this are released after each event, so one huge event does not pin memory.
    private static let retainedCapacity = 64 << 10
    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The value of `line` when its field name is exactly `name` (the whole line, or the part before
    /// the first colon); nil for any other name, which the spec ignores.
    @inline(__always)
    private static func value(of line: UnsafeBufferPointer<UInt8>, named name: StaticString) -> UnsafeBufferPointer<UInt8>? {
        let length = name.utf8CodeUnitCount
        guard line.count >= length, let base = line.baseAddress else { return nil }
        guard memcmp(base, name.utf8Start, length) == 0 else { return nil }
        if line.count == length { return UnsafeBufferPointer(start: base + length, count: 0) }
        return line[length] == .colon ? value(of: line, after: length) : nil
    }

    private static func utf8(of string: inout String, equals bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        string.withUTF8 { utf8 in
            guard utf8.count == bytes.count else { return false }
            guard let left = utf8.baseAddress, let right = bytes.baseAddress else { return true }
            return memcmp(left, right, utf8.count) == 0
        }
    }

    private static func text<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        String(decoding: bytes, as: UTF8.self)
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

/// The byte form's type, pending id, last event id and lone data line of the block being read, where
/// they lie in the chunk being parsed: a block read within one chunk is written out without a copy.
/// A non-nil field takes precedence over the parser's own buffer of the same name; `settle` copies
/// what is left when the chunk ends.
private struct ChunkFields {
    var type: UnsafeBufferPointer<UInt8>?
    var id: UnsafeBufferPointer<UInt8>?
    var lastEventId: UnsafeBufferPointer<UInt8>?
    var data: UnsafeBufferPointer<UInt8>?
}

/// Where a parse delivers what it completes: events materialised as `Output`, or JSON lines.
/// The parser is specialised for each, so `materialisesEvents` decides at compile time.
protocol ParserSink: ~Copyable {
    /// Whether the parser makes a `ServerSentEvent` (`event(_:)`) or hands over the bytes of the
    /// type, data and last event id (`event(type:data:id:)`); it calls only that one of the two.
    static var materialisesEvents: Bool { get }
    mutating func event(_ event: consuming ServerSentEvent)
    mutating func event(type: UnsafeBufferPointer<UInt8>, data: UnsafeBufferPointer<UInt8>, id: UnsafeBufferPointer<UInt8>)
    mutating func retry(_ milliseconds: Int)
    mutating func comment(_ text: UnsafeBufferPointer<UInt8>)
}

private struct OutputSink: ParserSink {
    let output: (consuming EventStreamParser.Output) -> Void

    static var materialisesEvents: Bool { true }
    func event(_ event: consuming ServerSentEvent) { output(.event(consume event)) }
    /// Not called: this sink materialises events.
    func event(type: UnsafeBufferPointer<UInt8>, data: UnsafeBufferPointer<UInt8>, id: UnsafeBufferPointer<UInt8>) {}
    func retry(_ milliseconds: Int) { output(.retry(milliseconds)) }
    func comment(_ text: UnsafeBufferPointer<UInt8>) { output(.comment(String(decoding: text, as: UTF8.self))) }
}

private struct BorrowedEventSink: ParserSink {
    let event: (EventStreamParser.BorrowedEvent) -> Void

    static var materialisesEvents: Bool { false }
    /// Not called: this sink takes events as bytes.
    func event(_ event: consuming ServerSentEvent) {}
    func event(type: UnsafeBufferPointer<UInt8>, data: UnsafeBufferPointer<UInt8>, id: UnsafeBufferPointer<UInt8>) {
        event(.init(type: type, data: data, lastEventId: id))
    }
    func retry(_ milliseconds: Int) {}
    func comment(_ text: UnsafeBufferPointer<UInt8>) {}
}

/// Writes `{"type":…,"data":…,"lastEventId":…}`, `{"retry":N}` and `{"comment":…}` lines into a
/// buffer of its own, grown as needed and handed over with one copy (`appendLines(to:)`).
struct JSONLineSink: ParserSink, ~Copyable {
    private var start: UnsafeMutablePointer<UInt8>
    private var end: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// False while writing into storage the caller owns (and frees).
    private var ownsStorage: Bool

    init(capacity: Int) {
        self.capacity = capacity
        start = .allocate(capacity: capacity)
        end = start
        ownsStorage = true
    }

    /// Writes into `storage` until it is full, then moves what it wrote to storage of its own.
    init(writingInto storage: UnsafeMutableBufferPointer<UInt8>) {
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
        reserve(Self.eventFramingLength + JSONStringEscaper.maximumLength(of: type.count + data.count + id.count))
        var output = Self.copy(#"{"type":""#, to: end)
        output = JSONStringEscaper.write(type, to: output)
        output = Self.copy(#"","data":""#, to: output)
        output = JSONStringEscaper.write(data, to: output)
        output = Self.copy(#"","lastEventId":""#, to: output)
        output = JSONStringEscaper.write(id, to: output)
        end = Self.copy("\"}\n", to: output)
    }

    mutating func retry(_ milliseconds: Int) {
        let digits = String(milliseconds)
        reserve(16 + digits.utf8.count)
        var output = Self.copy(#"{"retry":"#, to: end)
        for digit in digits.utf8 {
            output.pointee = digit
            output += 1
        }
        end = Self.copy("}\n", to: output)
    }

    mutating func comment(_ text: UnsafeBufferPointer<UInt8>) {
        reserve(16 + JSONStringEscaper.maximumLength(of: text.count))
        var output = Self.copy(#"{"comment":""#, to: end)
        output = JSONStringEscaper.write(text, to: output)
        end = Self.copy("\"}\n", to: output)
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

    @inline(__always)
    private static func copy(_ text: StaticString, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        memcpy(output, text.utf8Start, text.utf8CodeUnitCount)
        return output + text.utf8CodeUnitCount
    }
}

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

    /// The offset of the first CR or LF at or after `start`, if any. `start` never goes back.
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
