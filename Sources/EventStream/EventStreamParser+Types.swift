extension EventStreamParser {
    /// What a parser hands over, fixed when it is made: its buffers hold a block in that form only.
    public enum Form: Sendable, Hashable {
        /// `parse(_:_:)`: events materialised as `ServerSentEvent`, retries and comments as `Output`.
        case events
        /// `parse(_:appendingJSONLinesTo:)`, `parse(_:appendingTextLinesTo:)` and
        /// `parse(_:borrowingEvents:)`: events as bytes, never a string per event (they may take
        /// turns on one parser).
        case bytes
    }

    /// The lines a parse of the byte form writes: `EventJSONLine`'s JSON objects, or the text lines
    /// `drip connect` prints (`Output.appendTextLines`).
    public enum LineForm: Sendable, Hashable {
        case json
        case text
    }

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

    /// One dispatched event as bytes: its type (`message` when the stream set none), its data (lines
    /// joined with LF) and the last event id. The buffers point into the chunk being parsed or into
    /// the parser's own, so they are valid only during the call that hands the event over.
    public struct BorrowedEvent {
        public let type: UnsafeBufferPointer<UInt8>
        public let data: UnsafeBufferPointer<UInt8>
        public let lastEventId: UnsafeBufferPointer<UInt8>
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
}
