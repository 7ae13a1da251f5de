/// The one-JSON-object-per-line form of a parsed stream, shared by `drip decode`, `drip encode` and
/// `drip connect --json`:
///
///     {"type":"message","data":"hello","lastEventId":"7"}
///     {"retry":3000}
///     {"comment":"keep-alive"}
///
/// An event line's `type` defaults to `"message"`; without `lastEventId` the last event id is kept.
extension EventStreamParser.Output {
    /// Appends this output as one JSON object and a line feed — written by the same code as the
    /// parser's JSON-line form (`LineSink`), so the two cannot differ.
    public func appendJSONLine(to output: inout [UInt8]) {
        append(in: .json, to: &output)
    }

    /// Appends this output as the text lines `drip connect` prints, each ending in a line feed, its
    /// type, data, id or comment shown safely at a terminal (`TerminalText`): `type id=ID: data`
    /// (`type id=ID:` then each data line indented by two spaces when there are several), `retry N ms`,
    /// `: comment`. Written by the same code as the parser's text form, so the two cannot differ.
    public func appendTextLines(to output: inout [UInt8]) {
        append(in: .text, to: &output)
    }

    private func append(in form: EventStreamParser.LineForm, to output: inout [UInt8]) {
        var sink = LineSink(form: form, capacity: 256)
        switch self {
        case .event(let event):
            var type = event.type
            var data = event.data
            var id = event.id ?? ""
            type.withUTF8 { type in data.withUTF8 { data in id.withUTF8 { id in sink.event(type: type, data: data, id: id) } } }
        case .retry(let milliseconds):
            sink.retry(milliseconds)
        case .comment(var text):
            text.withUTF8 { sink.comment($0) }
        }
        sink.appendLines(to: &output)
    }

    /// This output as one JSON object, without a line feed.
    public var jsonLine: String {
        var output: [UInt8] = []
        appendJSONLine(to: &output)
        return String(decoding: output.dropLast(), as: UTF8.self)
    }

    /// Reads one JSON line. A parsed event's `id` is nil when the line has no `lastEventId`.
    public init(jsonLine: String) throws(JSONSyntaxError) {
        let value = try JSONValue(parsing: jsonLine)
        guard case .object(let members) = value else {
            throw JSONSyntaxError(column: 1, message: "expected a JSON object")
        }
        func string(_ key: String) throws(JSONSyntaxError) -> String? {
            guard let member = value[key] else { return nil }
            guard let string = member.stringValue else {
                throw JSONSyntaxError(column: 1, message: "\"\(key)\" must be a string, not \(member.serialized)")
            }
            return string
        }
        let eventKeys: Set = ["type", "data", "lastEventId"]
        let keys = members.map(\.key)
        if let unknown = keys.first(where: { !eventKeys.contains($0) && $0 != "retry" && $0 != "comment" }) {
            throw JSONSyntaxError(column: 1, message: "unknown key \"\(unknown)\"; expected type, data, lastEventId, retry or comment")
        }
        if keys.contains(where: eventKeys.contains) {
            if let extra = keys.first(where: { !eventKeys.contains($0) }) {
                throw JSONSyntaxError(column: 1, message: "\"\(extra)\" cannot share a line with an event; put it on its own line")
            }
            guard let data = try string("data") else {
                throw JSONSyntaxError(column: 1, message: "an event line needs \"data\"")
            }
            let type = try string("type") ?? ServerSentEvent.defaultType
            self = .event(ServerSentEvent(type: type, data: data, id: try string("lastEventId")))
        } else if keys == ["retry"], let retryValue = value["retry"] {
            guard let milliseconds = retryValue.intValue, milliseconds >= 0 else {
                throw JSONSyntaxError(column: 1, message: "\"retry\" must be a whole number of milliseconds, not \(retryValue.serialized)")
            }
            self = .retry(milliseconds)
        } else if keys == ["comment"] {
            self = .comment(try string("comment") ?? "")
        } else {
            throw JSONSyntaxError(column: 1, message: "expected an event {\"type\",\"data\",\"lastEventId\"}, {\"retry\":N} or {\"comment\":…}")
        }
    }
}
