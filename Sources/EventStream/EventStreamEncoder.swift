/// Writes events, comments and retry fields as `text/event-stream` bytes that any spec-following
/// parser reads back unchanged.
///
/// Data is split on CRLF, CR and LF into one `data:` line each, always followed by a space when the
/// part is non-empty, so empty parts and values that begin with a space survive. Values that cannot
/// be represented (an id with CR, LF or NUL; a type with CR or LF; a negative retry) are rejected.
public struct EventStreamEncoder: Sendable {
    public init() {}

    /// Appends `event` followed by the blank line that dispatches it.
    public func append(_ event: ServerSentEvent, to output: inout [UInt8]) throws(EventEncodingError) {
        if let id = event.id {
            guard !id.utf8.contains(where: { $0 == .lineFeed || $0 == .carriageReturn || $0 == 0 }) else {
                throw .invalidID(id)
            }
            appendField("id", id.utf8, to: &output)
        }
        if event.type != ServerSentEvent.defaultType, !event.type.isEmpty {
            guard !event.type.utf8.contains(where: { $0 == .lineFeed || $0 == .carriageReturn }) else {
                throw .invalidType(event.type)
            }
            appendField("event", event.type.utf8, to: &output)
        }
        if let retry = event.retry { try appendRetry(retry, to: &output) }
        for part in Self.lines(of: event.data) { appendField("data", part, to: &output) }
        output.append(.lineFeed)
    }

    /// Appends a comment, one `: text` line per line of `text` (an empty text gives a bare `:`).
    public func appendComment(_ text: String, to output: inout [UInt8]) {
        for part in Self.lines(of: text) { appendField("", part, to: &output) }
    }

    /// Appends a standalone `retry:` field (it takes effect without dispatching an event).
    public func appendRetry(_ milliseconds: Int, to output: inout [UInt8]) throws(EventEncodingError) {
        guard milliseconds >= 0 else { throw .invalidRetry(milliseconds) }
        appendField("retry", String(milliseconds).utf8, to: &output)
    }

    /// `event` encoded as a string.
    public func encode(_ event: ServerSentEvent) throws(EventEncodingError) -> String {
        var output: [UInt8] = []
        try append(event, to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// `text` encoded as comment lines.
    public func encodeComment(_ text: String) -> String {
        var output: [UInt8] = []
        appendComment(text, to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    private func appendField<Value: Collection<UInt8>>(_ name: StaticString, _ value: Value, to output: inout [UInt8]) {
        name.withUTF8Buffer { output.append(contentsOf: $0) }
        output.append(.colon)
        if !value.isEmpty {
            output.append(.space)
            output.append(contentsOf: value)
        }
        output.append(.lineFeed)
    }

    /// The lines of `text`, split on CRLF, CR and LF; an empty text is one empty line.
    static func lines(of text: String) -> [Substring.UTF8View] {
        var parts: [Substring.UTF8View] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == .lineFeed || byte == .carriageReturn {
                parts.append(text[start..<index].utf8)
                index = utf8.index(after: index)
                if byte == .carriageReturn, index != utf8.endIndex, utf8[index] == .lineFeed {
                    index = utf8.index(after: index)
                }
                start = index
            } else {
                index = utf8.index(after: index)
            }
        }
        parts.append(text[start...].utf8)
        return parts
    }
}
