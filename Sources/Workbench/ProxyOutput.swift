import EventStream
import SSEClient
import SSEProxy
import SSEServer

/// The lines a person (or a JSON reader) sees of a proxy's traffic: each exchange as `drip connect`
/// shows a stream — request, answer, events, comments, retry, how it ended — prefixed with the
/// proxy's name and the exchange's number (`p1#2: `; a problem of the proxy itself, numbered 0, only
/// with its name). Events are formatted by `ClientOutputStyle`,
/// so a proxied stream reads like a connected one; what a fault did to an event follows it in brackets.
public struct ProxyOutput: Sendable {
    public var style: ClientOutputStyle
    /// The proxy's name in the REPL; empty for `drip proxy`, whose lines start `#2: `.
    public var name: String

    public init(style: ClientOutputStyle, name: String = "") {
        self.style = style
        self.name = name
    }

    public func lines(for event: ProxyEvent, time: @autoclosure () -> String = Console.timestamp()) -> [String] {
        guard !style.json else { return jsonLines(for: event, time: time()) }
        // Connection 0 is the proxy itself (a problem not of one exchange): its lines name only the proxy.
        let label = event.connection == 0 ? (name.isEmpty ? "" : "\(name): ") : "\(name)#\(event.connection): "
        return textLines(for: event, time: time()).map { label + $0 }
    }

    private func textLines(for event: ProxyEvent, time: String) -> [String] {
        let prefix = style.timestamps ? time + " " : ""
        switch event {
        case .request(_, let method, let target, let headers):
            let resumed = headers.first { $0.name.lowercased() == "last-event-id" }.map { " (Last-Event-ID: \($0.value))" } ?? ""
            var lines = [prefix + "→ \(method) \(Secrets.masked(target))" + resumed]
            if style.includesHeaders { lines += headers.map { prefix + "  " + Secrets.masked("\($0.name): \($0.value)") } }
            return lines
        case .response(_, let status, let reason, let contentType, _, let headers):
            var lines = [prefix + "← \(status) \(reason)" + (contentType.map { " \($0)" } ?? "")]
            if style.includesHeaders { lines += headers.map { prefix + "  " + Secrets.masked("\($0.name): \($0.value)") } }
            return lines
        case .observed(_, let observation):
            switch observation {
            case .event(let sse, let fate):
                var lines = style.lines(for: .event(sse), time: time)
                if fate != .passed, !lines.isEmpty { lines[0] += " [\(fate.rawValue)]" }
                return lines
            case .comment(let text): return style.lines(for: .comment(text), time: time)
            case .retry(let milliseconds): return style.lines(for: .retry(milliseconds), time: time)
            case .unreadable(let reason): return [prefix + "no longer read as events (the bytes still pass): \(reason)"]
            case .faultDone(let fault): return [prefix + "\(fault): done"]
            }
        case .ended(_, let reason, _):
            return [prefix + "ended: \(reason)"]
        case .problem(_, let message):
            return [prefix + "problem: \(message)"]
        }
    }

    private func jsonLines(for event: ProxyEvent, time: String) -> [String] {
        var members: [(key: String, value: JSONValue)] = [("connection", .number(String(event.connection)))]
        if !name.isEmpty { members.insert(("proxy", .string(name)), at: 0) }
        let headers = { (fields: [HeaderField]) in JSONValue.object(fields.map { ($0.name, .string(Secrets.masked($0.value))) }) }
        switch event {
        case .request(_, let method, let target, let fields):
            members += [("state", .string("request")), ("method", .string(method)), ("target", .string(Secrets.masked(target)))]
            members.append(("headers", headers(fields)))
        case .response(_, let status, let reason, let contentType, let isEventStream, let fields):
            members += [("state", .string("response")), ("status", .number(String(status))), ("reason", .string(reason))]
            members += [("contentType", contentType.map(JSONValue.string) ?? .null), ("eventStream", .bool(isEventStream))]
            members.append(("headers", headers(fields)))
        case .observed(_, let observation):
            switch observation {
            case .event(let sse, let fate):
                guard style.eventTypes.isEmpty || style.eventTypes.contains(sse.type) else { return [] }
                members += [("type", .string(sse.type)), ("data", .string(sse.data)), ("lastEventId", .string(sse.id ?? ""))]
                members.append(("fate", .string(fate.rawValue)))
            case .comment(let text):
                guard style.comments else { return [] }
                members.append(("comment", .string(text)))
            case .retry(let milliseconds): members.append(("retry", .number(String(milliseconds))))
            case .unreadable(let reason): members += [("state", .string("unreadable")), ("reason", .string(reason))]
            case .faultDone(let fault): members += [("state", .string("fault done")), ("fault", .string(fault))]
            }
        case .ended(_, let reason, _):
            members += [("state", .string("ended")), ("reason", .string(reason))]
        case .problem(_, let message):
            members += [("state", .string("problem")), ("message", .string(message))]
        }
        if style.timestamps { members.append(("time", .string(time))) }
        return [JSONValue.object(members).serialized]
    }
}
