import EventStream
import SSEClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a client's happenings are printed: by `drip connect`, and by the REPL for its named clients.
public struct ClientOutputStyle: Sendable {
    public var json: Bool
    public var comments: Bool
    public var raw: Bool
    public var timestamps: Bool
    public var prettyJSON: Bool
    /// Only events of these types (all when empty); states, comments and retries still print.
    public var eventTypes: Set<String>
    /// Print the headers of a response that did not open the stream (`--include`), as well as its
    /// status line and the start of its body.
    public var includesHeaders: Bool

    public init(
        json: Bool = false, comments: Bool = false, raw: Bool = false, timestamps: Bool = false, prettyJSON: Bool = false,
        eventTypes: Set<String> = [], includesHeaders: Bool = false
    ) {
        self.includesHeaders = includesHeaders
        self.json = json
        self.comments = comments
        self.raw = raw
        self.timestamps = timestamps
        self.prettyJSON = prettyJSON
        self.eventTypes = eventTypes
    }

    /// The line form the stream's events, retries and comments can be printed in as the client's
    /// lines (`EventSourceClient.runEncodingLines`), written straight from the bytes read: JSON, or
    /// text without pretty-printing; nil with timestamps or a type filter.
    public var directLineForm: EventStreamParser.LineForm? {
        guard !timestamps, eventTypes.isEmpty else { return nil }
        if json { return .json }
        return prettyJSON ? nil : .text
    }

    /// The lines printed for `event`, possibly none.
    public func lines(for event: ClientEvent, time: @autoclosure () -> String = Console.timestamp()) -> [String] {
        let time = timestamps ? time() : ""
        return json ? jsonLines(for: event, time: time) : textLines(for: event, time: time)
    }

    /// Appends the lines for `event` to `output`, each ending in LF. Events without timestamps take
    /// a direct path (no intermediate strings): that is what a fast stream prints most.
    public func append(_ event: ClientEvent, to output: inout [UInt8]) {
        if let form = directLineForm, case .event(let sse) = event {
            let event = EventStreamParser.Output.event(sse)
            if form == .json { event.appendJSONLine(to: &output) } else { event.appendTextLines(to: &output) }
            return
        }
        for line in lines(for: event) {
            output.append(contentsOf: line.utf8)
            output.append(UInt8(ascii: "\n"))
        }
    }

    /// The text lines for `event`, safe at a terminal: what the stream said is written by the same
    /// code as the parser's text form (`appendTextLines`); the rest is escaped here.
    private func textLines(for event: ClientEvent, time: String) -> [String] {
        let prefix = timestamps ? time + " " : ""
        func streamLines(_ output: EventStreamParser.Output) -> [String] {
            var bytes: [UInt8] = []
            output.appendTextLines(to: &bytes)
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().map {
                String(decoding: $0, as: UTF8.self)
            }
            if !lines.isEmpty { lines[0] = prefix + lines[0] }
            return lines
        }
        switch event {
        case .connecting(let url, let method, let lastEventId):
            let line = "connecting \(method) \(Secrets.masked(url))" + (lastEventId.map { " (Last-Event-ID: \($0))" } ?? "")
            return [prefix + line.visibleOnTerminal]
        case .open(let status):
            return [prefix + "open (\(status))"]
        case .refused(let status, let reason, let headers, let body):
            var lines = [prefix + "the server answered \(status) \(reason)".visibleOnTerminal]
            if includesHeaders { lines += headers.map { prefix + "  " + Secrets.masked("\($0.name): \($0.value)").visibleOnTerminal } }
            if !body.isEmpty { lines.append(prefix + "  body: " + Self.bodyStart(body).visibleOnTerminal) }
            return lines
        case .event(var sse):
            guard eventTypes.isEmpty || eventTypes.contains(sse.type) else { return [] }
            if prettyJSON, let value = try? JSONValue(parsing: sse.data), case .object = value { sse.data = value.prettyPrinted() }
            return streamLines(.event(sse))
        case .comment(let text):
            return comments ? streamLines(.comment(text)) : []
        case .retry(let milliseconds):
            return streamLines(.retry(milliseconds))
        case .raw(let bytes):
            return raw ? [prefix + ("read \(bytes.count) bytes: " + String(decoding: bytes, as: UTF8.self).debugDescription).visibleOnTerminal] : []
        case .reconnecting(let delay, let reason):
            return [prefix + "reconnecting in \(Self.describe(delay)): \(reason)".visibleOnTerminal]
        case .closed(let reason, let isFailure):
            return [prefix + ((isFailure ? "failed: " : "closed: ") + reason).visibleOnTerminal]
        }
    }

    private func jsonLines(for event: ClientEvent, time: String) -> [String] {
        var members: [(key: String, value: JSONValue)]
        switch event {
        case .connecting(let url, let method, let lastEventId):
            members = [
                ("state", .string("connecting")), ("method", .string(method)), ("url", .string(Secrets.masked(url))),
                ("lastEventId", lastEventId.map(JSONValue.string) ?? .null),
            ]
        case .open(let status):
            members = [("state", .string("open")), ("status", .number(String(status)))]
        case .refused(let status, let reason, let headers, let body):
            members = [("state", .string("refused")), ("status", .number(String(status))), ("reason", .string(reason))]
            if includesHeaders {
                members.append(("headers", .object(headers.map { ($0.name, .string(Secrets.masked($0.value))) })))
            }
            members.append(("body", .string(String(decoding: body, as: UTF8.self))))
        case .event(let sse):
            guard eventTypes.isEmpty || eventTypes.contains(sse.type) else { return [] }
            members = [("type", .string(sse.type)), ("data", .string(sse.data)), ("lastEventId", .string(sse.id ?? ""))]
        case .comment(let text):
            guard comments else { return [] }
            members = [("comment", .string(text))]
        case .retry(let milliseconds):
            members = [("retry", .number(String(milliseconds)))]
        case .raw(let bytes):
            guard raw else { return [] }
            members = [("raw", .string(String(decoding: bytes, as: UTF8.self))), ("bytes", .number(String(bytes.count)))]
        case .reconnecting(let delay, let reason):
            members = [("state", .string("reconnecting")), ("afterMs", .number(String(Self.milliseconds(delay)))), ("reason", .string(reason))]
        case .closed(let reason, let isFailure):
            members = [("state", .string(isFailure ? "failed" : "closed")), ("reason", .string(reason))]
        }
        if timestamps { members.append(("time", .string(time))) }
        return [JSONValue.object(members).serialized]
    }

    /// The start of a body as one line: its text with line breaks shown as `⏎`, and `…` when cut.
    static func bodyStart(_ body: [UInt8]) -> String {
        var text = String(decoding: body, as: UTF8.self)
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        text = text.replacing("\r\n", with: "⏎").replacing("\n", with: "⏎")
        return body.count >= ClientEvent.refusedBodyLimit ? text + "…" : text
    }

    static func milliseconds(_ duration: Duration) -> Int {
        duration.clampedMilliseconds
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds = milliseconds(duration)
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
