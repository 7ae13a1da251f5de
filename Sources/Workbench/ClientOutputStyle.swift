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

    /// Whether the stream's events, retries and comments can be printed as the client's JSON lines
    /// (`EventSourceClient.runEncodingJSONLines`), untouched: JSON without timestamps or a type filter.
    public var encodesStreamDirectly: Bool { json && !timestamps && eventTypes.isEmpty }

    /// The lines printed for `event`, possibly none.
    public func lines(for event: ClientEvent, time: @autoclosure () -> String = Console.timestamp()) -> [String] {
        let time = timestamps ? time() : ""
        return json ? jsonLines(for: event, time: time) : textLines(for: event, time: time).map(\.visibleOnTerminal)
    }

    /// Appends the lines for `event` to `output`, each ending in LF. Events in JSON without
    /// timestamps take a direct path (no intermediate strings): that is what a fast stream prints most.
    public func append(_ event: ClientEvent, to output: inout [UInt8]) {
        if json, !timestamps, case .event(let sse) = event {
            guard eventTypes.isEmpty || eventTypes.contains(sse.type) else { return }
            EventStreamParser.Output.event(sse).appendJSONLine(to: &output)
            return
        }
        for line in lines(for: event) {
            output.append(contentsOf: line.utf8)
            output.append(UInt8(ascii: "\n"))
        }
    }

    private func textLines(for event: ClientEvent, time: String) -> [String] {
        let prefix = timestamps ? time + " " : ""
        switch event {
        case .connecting(let url, let method, let lastEventId):
            return [prefix + "connecting \(method) \(Secrets.masked(url))" + (lastEventId.map { " (Last-Event-ID: \($0))" } ?? "")]
        case .open(let status):
            return [prefix + "open (\(status))"]
        case .refused(let status, let reason, let headers, let body):
            var lines = [prefix + "the server answered \(status) \(reason)"]
            if includesHeaders { lines += headers.map { prefix + "  " + Secrets.masked("\($0.name): \($0.value)") } }
            if !body.isEmpty { lines.append(prefix + "  body: " + Self.bodyStart(body)) }
            return lines
        case .event(let sse):
            guard eventTypes.isEmpty || eventTypes.contains(sse.type) else { return [] }
            var data = sse.data
            if prettyJSON, let value = try? JSONValue(parsing: data), case .object = value { data = value.prettyPrinted() }
            let header = prefix + sse.type + ((sse.id ?? "").isEmpty ? "" : " id=\(sse.id ?? "")")
            let dataLines = data.split(separator: "\n", omittingEmptySubsequences: false)
            if dataLines.count <= 1 { return [header + ": " + data] }
            return [header + ":"] + dataLines.map { "  " + $0 }
        case .comment(let text):
            return comments ? [prefix + ": " + text] : []
        case .retry(let milliseconds):
            return [prefix + "retry \(milliseconds) ms"]
        case .raw(let bytes):
            return raw ? [prefix + "read \(bytes.count) bytes: " + String(decoding: bytes, as: UTF8.self).debugDescription] : []
        case .reconnecting(let delay, let reason):
            return [prefix + "reconnecting in \(Self.describe(delay)): \(reason)"]
        case .closed(let reason, let isFailure):
            return [prefix + (isFailure ? "failed: " : "closed: ") + reason]
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
