/// The byte form's type, pending id, last event id and lone data line of the block being read, where
/// they lie in the chunk being parsed: a block read within one chunk is written out without a copy.
/// A non-nil field takes precedence over the parser's own buffer of the same name; `settle` copies
/// what is left when the chunk ends.
struct ChunkFields {
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
    /// Writes whole blocks from `progress.position` by a faster path of the sink's own, if it has
    /// one (`SimpleBlocks`), exactly as `event(type:data:id:)` would; the default writes none.
    mutating func writeSimpleBlocks(_ bytes: UnsafeBufferPointer<UInt8>, _ progress: inout FastBlockProgress, limits: EventStreamParser.Limits)
}

/// How far a sink's own fast path got (`ParserSink.writeSimpleBlocks`).
struct FastBlockProgress {
    /// The start of the first block not written yet.
    var position: Int
    /// The last event id in force after the blocks written.
    var lastEventId: UnsafeBufferPointer<UInt8>
    var sawId = false
    /// The lines read, blank lines included.
    var lines = 0
    /// Set when it stopped at a CR: the stream likely ends every line so (CRLF), and the parser stops
    /// offering it the blocks that follow.
    var metCarriageReturn = false
}

extension ParserSink where Self: ~Copyable {
    @inline(__always)
    mutating func writeSimpleBlocks(_ bytes: UnsafeBufferPointer<UInt8>, _ progress: inout FastBlockProgress, limits: EventStreamParser.Limits) {}
}

struct OutputSink: ParserSink {
    let output: (consuming EventStreamParser.Output) -> Void

    static var materialisesEvents: Bool { true }
    func event(_ event: consuming ServerSentEvent) { output(.event(consume event)) }
    /// Not called: this sink materialises events.
    func event(type: UnsafeBufferPointer<UInt8>, data: UnsafeBufferPointer<UInt8>, id: UnsafeBufferPointer<UInt8>) {}
    func retry(_ milliseconds: Int) { output(.retry(milliseconds)) }
    func comment(_ text: UnsafeBufferPointer<UInt8>) { output(.comment(String(decoding: text, as: UTF8.self))) }
}

struct BorrowedEventSink: ParserSink {
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
