import EventStream

/// `drip decode`: a captured `text/event-stream` in, one JSON line per dispatched event, retry and
/// (optionally) comment out — what a browser's `EventSource` would see.
public struct DecodeTool: Sendable {
    public var limits: EventStreamParser.Limits
    public var reportsComments: Bool

    public init(limits: EventStreamParser.Limits = .init(), reportsComments: Bool = false) {
        self.limits = limits
        self.reportsComments = reportsComments
    }

    /// Decodes `input` to `output`; an unterminated final block is discarded, as at end of stream.
    public func run(input: borrowing InputFile, output: inout OutputWriter) throws(ToolError) {
        var parser = EventStreamParser(form: .bytes, limits: limits, reportsComments: reportsComments)
        try input.forEachChunk { (chunk) throws(ToolError) in
            // Empty, so that the parser writes the lines straight into a new array.
            var lines: [UInt8] = []
            do throws(EventStreamError) {
                try parser.parse(chunk, appendingJSONLinesTo: &lines)
            } catch {
                try? output.write(contentsOf: lines)
                try? output.flush()
                throw ToolError(.badInput, "\(input.name):\(error.line): \(error)")
            }
            try output.write(contentsOf: lines)
        }
        parser.endOfStream()
        try output.flush()
    }
}

/// `drip encode`: JSON lines in the shape `drip decode` prints, out as a `text/event-stream`.
///
/// `lastEventId` is written as an `id:` field only when it differs from the stream's current last
/// event id, so `decode | encode | decode` prints exactly what the first decode printed.
public struct EncodeTool: Sendable {
    /// The longest JSON line accepted, in bytes.
    public var maxLineLength: Int

    public init(maxLineLength: Int = EventStreamParser.Limits().maxLineLength) {
        self.maxLineLength = maxLineLength
    }

    public func run(input: borrowing InputFile, output: inout OutputWriter) throws(ToolError) {
        let encoder = EventStreamEncoder()
        let name = input.name
        var lastEventId = ""
        var lineNumber = 0
        var pending: [UInt8] = []

        func encodeLine(_ bytes: ArraySlice<UInt8>) throws(ToolError) {
            lineNumber += 1
            var text = String(decoding: bytes, as: UTF8.self)
            if text.hasSuffix("\r") { text.removeLast() }
            guard text.contains(where: { !$0.isWhitespace }) else { return }
            let item: EventStreamParser.Output
            do {
                item = try EventStreamParser.Output(jsonLine: text)
            } catch {
                throw ToolError(.badInput, "\(name):\(lineNumber):\(error.column): \(error.message)")
            }
            var bytes: [UInt8] = []
            do throws(EventEncodingError) {
                switch item {
                case .event(var event):
                    if let id = event.id, id != lastEventId {
                        lastEventId = id
                    } else {
                        event.id = nil
                    }
                    try encoder.append(event, to: &bytes)
                case .retry(let milliseconds):
                    try encoder.appendRetry(milliseconds, to: &bytes)
                case .comment(let comment):
                    encoder.appendComment(comment, to: &bytes)
                }
            } catch {
                throw ToolError(.badInput, "\(name):\(lineNumber): \(error)")
            }
            try output.write { $0.append(contentsOf: bytes) }
        }

        try input.forEachChunk { (chunk) throws(ToolError) in
            var start = chunk.startIndex
            while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
                pending.append(contentsOf: chunk[start..<newline])
                try checkLength(pending.count, lineNumber + 1, name)
                try encodeLine(pending[...])
                pending.removeAll(keepingCapacity: true)
                start = newline + 1
            }
            pending.append(contentsOf: chunk[start...])
            try checkLength(pending.count, lineNumber + 1, name)
        }
        if !pending.isEmpty { try encodeLine(pending[...]) }
        try output.flush()
    }

    private func checkLength(_ length: Int, _ line: Int, _ name: String) throws(ToolError) {
        if length > maxLineLength {
            throw ToolError(.badInput, "\(name):\(line): line longer than the limit of \(maxLineLength) bytes")
        }
    }
}
