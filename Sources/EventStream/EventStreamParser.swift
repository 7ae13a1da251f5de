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
    /// The data buffer: the first line alone as text (the common case, no copy), and from the second
    /// line on all lines joined with LF as bytes. `dataSize` counts the spec's buffer, LFs included.
    private var firstDataLine = ""
    private var joinedData: [UInt8] = []
    private var dataLineCount = 0
    private var dataSize = 0
    private var typeBuffer = ""
    /// The last type read; streams repeat a few types, so reusing it saves decoding one per event.
    private var lastType = ""
    private var idBuffer: String
    private var idBufferChanged = false
    private var blockRetry: Int?
    private var sawCarriageReturn = false
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
        if let failure { throw failure }
        let bytes = chunk.bindMemory(to: UInt8.self)
        var scanner = LineEndScanner(chunk)
        var index = 0
        let count = bytes.count
        if sawCarriageReturn, count > 0 {
            sawCarriageReturn = false
            if bytes[0] == .lineFeed { index = 1 }
        }
        while index < count {
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
                try process(line: UnsafeBufferPointer(rebasing: bytes[index..<end]), output)
            } else {
                var line = pendingLine
                pendingLine = []
                line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
                try line.withUnsafeBufferPointer { (line) throws(EventStreamError) in try process(line: line, output) }
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

    @inline(__always)
    private mutating func process(line fullLine: UnsafeBufferPointer<UInt8>, _ output: (consuming Output) -> Void) throws(EventStreamError) {
        var line = fullLine
        if atStreamStart {
            atStreamStart = false
            if line.starts(with: Self.byteOrderMark) { line = UnsafeBufferPointer(rebasing: line[3...]) }
        }
        guard let base = line.baseAddress, !line.isEmpty else { return dispatch(output) }
        if base[0] == .colon {
            if reportsComments { output(.comment(Self.text(Self.value(of: line, after: 0)))) }
            return
        }
        switch base[0] {
        case UInt8(ascii: "d"):
            guard let value = Self.value(of: line, named: "data") else { return }
            dataSize += value.count + 1
            if dataSize > limits.maxEventSize {
                try fail(.eventTooLarge(line: lineNumber, limit: limits.maxEventSize))
            }
            appendData(value)
        case UInt8(ascii: "e"):
            guard let value = Self.value(of: line, named: "event") else { return }
            if !Self.utf8(of: &lastType, equals: value) { lastType = Self.text(value) }
            typeBuffer = lastType
        case UInt8(ascii: "i"):
            guard let value = Self.value(of: line, named: "id") else { return }
            if !value.contains(0) {
                idBuffer = Self.text(value)
                idBufferChanged = true
            }
        case UInt8(ascii: "r"):
            guard let value = Self.value(of: line, named: "retry") else { return }
            if let milliseconds = Self.retryValue(value) {
                reconnectionTime = milliseconds
                blockRetry = milliseconds
                output(.retry(milliseconds))
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

    private mutating func appendData(_ value: UnsafeBufferPointer<UInt8>) {
        dataLineCount += 1
        if dataLineCount == 1 {
            firstDataLine = Self.text(value)
            return
        }
        if dataLineCount == 2 {
            joinedData.removeAll(keepingCapacity: true)
            joinedData.append(contentsOf: firstDataLine.utf8)
        }
        joinedData.append(.lineFeed)
        joinedData.append(contentsOf: value)
    }

    private mutating func clearData() {
        firstDataLine = ""
        if dataLineCount > 1 {
            joinedData.removeAll(keepingCapacity: joinedData.capacity <= Self.retainedCapacity)
        }
        dataLineCount = 0
        dataSize = 0
    }

    private mutating func dispatch(_ output: (consuming Output) -> Void) {
        if idBufferChanged {
            idBufferChanged = false
            lastEventId = idBuffer
        }
        guard dataLineCount > 0 else {
            typeBuffer = ""
            blockRetry = nil
            return
        }
        // Move the buffers into the event instead of copying them: no reference counting per event.
        var data = ""
        if dataLineCount == 1 { swap(&data, &firstDataLine) } else { data = Self.text(joinedData) }
        var type = ""
        swap(&type, &typeBuffer)
        if type.isEmpty { type = ServerSentEvent.defaultType }
        let retry = blockRetry
        blockRetry = nil
        clearData()
        output(.event(ServerSentEvent(data: consume data, type: consume type, id: lastEventId, retry: retry)))
    }

    /// Buffers larger than this are released after each event, so one huge event does not pin memory.
    private static let retainedCapacity = 64 << 10
    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The value of `line` when its field name is exactly `name` (the whole line, or the part before
    /// the first colon); nil for any other name, which the spec ignores.
    @inline(__always)
    private static func value(of line: UnsafeBufferPointer<UInt8>, named name: StaticString) -> UnsafeBufferPointer<UInt8>? {
        let length = name.utf8CodeUnitCount
        guard line.count >= length, let base = line.baseAddress else { return nil }
        let expected = name.utf8Start
        for index in 0..<length where base[index] != expected[index] { return nil }
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

/// Finds line ends in one chunk with libc's vectorised `memchr`, remembering the next CR and the
/// next LF so that each byte is scanned at most once per kind, even when one kind is rare.
struct LineEndScanner {
    private let base: UnsafeRawPointer?
    private let count: Int
    private var nextLineFeed = -1
    private var nextCarriageReturn = -1

    init(_ buffer: UnsafeRawBufferPointer) {
        base = buffer.baseAddress
        count = buffer.count
    }

    /// The offset of the first CR or LF at or after `start`, if any.
    mutating func lineEnd(from start: Int) -> Int? {
        #if _endian(little)
            // Most lines are short: look at the next 16 bytes directly before paying for a call.
            if let base, start + 16 <= count {
                if let found = Self.firstLineBreak(in: base.loadUnaligned(fromByteOffset: start, as: UInt64.self)) {
                    return start + found
                }
                if let found = Self.firstLineBreak(in: base.loadUnaligned(fromByteOffset: start + 8, as: UInt64.self)) {
                    return start + 8 + found
                }
                return scan(from: start + 16)
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
