import EventStream
import SSEClient

/// What `expect`, `expect-not` and `wait` look for in what a client saw: matchers on the event
/// (type, data exact / substring / regular expression / JSON field, id, comment, retry), a count,
/// or a state (opened, closed, failed with a status, reconnected with the Last-Event-ID sent), and
/// a deadline.
public struct Expectation: Sendable, CustomStringConvertible {
    public static let matcherHelp = """
        Matchers (all must hold for one item the client saw, after what earlier expectations consumed):
          event=TYPE              the event type
          data=TEXT               the data, exactly
          data~TEXT               the data contains TEXT
          data~/REGEX/            the data matches REGEX (within the deadline)
          data.PATH=VALUE         a field of JSON data (data.user.name=ann, data.items.0=x)
          id=ID                   the event's last event id
          comment=TEXT            a comment line
          retry=MS                a retry: field
          count=N                 N such events
          opened | closed         a state
          failed [status=N]       the client failed (with that HTTP status)
          reconnected [last-event-id=ID]   it reconnected (sending that Last-Event-ID)
          within DURATION         how long to wait (default 5s)
        """

    enum Matcher: Sendable {
        case type(String)
        case data(String)
        case dataContains(String)
        case dataMatches(String)
        case dataField([String], String)
        case id(String)
        case comment(String)
        case retry(Int)
        case opened
        case closed
        case failed(status: Int?)
        case reconnected(lastEventId: String?)
    }

    let matchers: [Matcher]
    public let count: Int
    public let deadline: Duration
    public let text: String

    public var description: String { text }

    /// Parses the words after the client name.
    /// Parses the matcher words (already unquoted by the lexer); `text` is how the expectation reads.
    public static func parse(_ words: [Word], text: String, command: String) throws(CommandError) -> Expectation {
        var matchers: [Matcher] = []
        var count = 1
        var deadline = Duration.seconds(5)
        var index = 0
        while index < words.count {
            let word = words[index].text
            func fail(_ message: String) -> CommandError { CommandError("\(command): \(message)", column: words[index].column) }
            switch word {
            case "within":
                index += 1
                guard index < words.count, let duration = DurationValue(parsing: words[index].text) else {
                    throw CommandError("\(command): within needs a duration (250ms, 2s)", column: words[min(index, words.count - 1)].column)
                }
                deadline = duration.duration
            case "opened", "open": matchers.append(.opened)
            case "closed": matchers.append(.closed)
            case "failed": matchers.append(.failed(status: nil))
            case "reconnected": matchers.append(.reconnected(lastEventId: nil))
            default:
                if let range = word.firstRange(of: "~"), word[..<range.lowerBound] == "data" {
                    let value = String(word[range.upperBound...])
                    if value.count >= 2, value.hasPrefix("/"), value.hasSuffix("/") {
                        let pattern = String(value.dropFirst().dropLast())
                        guard (try? Regex(pattern)) != nil else { throw fail("'\(pattern)' is not a regular expression") }
                        matchers.append(.dataMatches(pattern))
                    } else {
                        matchers.append(.dataContains(value))
                    }
                } else if let equals = word.firstIndex(of: "=") {
                    let key = String(word[..<equals])
                    let value = String(word[word.index(after: equals)...])
                    switch key {
                    case "event", "type": matchers.append(.type(value))
                    case "data": matchers.append(.data(value))
                    case "id": matchers.append(.id(value))
                    case "comment": matchers.append(.comment(value))
                    case "retry":
                        guard let milliseconds = Int(value) else { throw fail("retry=\(value) is not a number of milliseconds") }
                        matchers.append(.retry(milliseconds))
                    case "count":
                        guard let number = Int(value), number > 0 else { throw fail("count=\(value) is not a positive number") }
                        count = number
                    case "status":
                        guard let status = Int(value) else { throw fail("status=\(value) is not an HTTP status") }
                        if let last = matchers.indices.last, case .failed = matchers[last] {
                            matchers[last] = .failed(status: status)
                        } else {
                            matchers.append(.failed(status: status))
                        }
                    case "last-event-id":
                        if let last = matchers.indices.last, case .reconnected = matchers[last] {
                            matchers[last] = .reconnected(lastEventId: value)
                        } else {
                            matchers.append(.reconnected(lastEventId: value))
                        }
                    default:
                        if key.hasPrefix("data.") {
                            matchers.append(.dataField(key.dropFirst(5).split(separator: ".").map(String.init), value))
                        } else {
                            let known = ["event", "data", "id", "comment", "retry", "count", "status", "last-event-id", "within"]
                            let hint = CommandTable.suggestions(for: key, among: known).first.map { "; did you mean \($0)=?" } ?? ""
                            throw fail("unknown matcher '\(key)='\(hint)")
                        }
                    }
                } else {
                    let states = ["opened", "closed", "failed", "reconnected", "within"]
                    let hint = CommandTable.suggestions(for: word, among: states).first.map { "; did you mean \($0)?" } ?? ""
                    throw fail("unknown matcher '\(word)'\(hint)")
                }
            }
            index += 1
        }
        return Expectation(matchers: matchers, count: count, deadline: deadline, text: text)
    }

    /// The regular expressions an event's data must match: decided apart from the other matchers,
    /// within the deadline (`RegexMatch`), since a pattern may backtrack for longer than any deadline.
    var patterns: [String] { matchers.compactMap { if case .dataMatches(let pattern) = $0 { pattern } else { nil } } }

    /// Whether `event` satisfies every matcher but the regular expressions (`patterns`); `openedBefore`
    /// tells whether the client was open before it (what makes a `.connecting` a reconnection).
    func matches(_ event: ClientEvent, openedBefore: Bool) -> Bool {
        matchers.allSatisfy { matcher in
            switch (matcher, event) {
            case (.type(let type), .event(let sse)): sse.type == type
            case (.data(let data), .event(let sse)): sse.data == data
            case (.dataContains(let part), .event(let sse)): sse.data.contains(part)
            case (.dataMatches, .event): true
            case (.dataField(let path, let value), .event(let sse)): Self.field(path, in: sse.data).map { Self.matches($0, value) } ?? false
            case (.id(let id), .event(let sse)): sse.id == id
            case (.comment(let text), .comment(let comment)): comment == text
            case (.retry(let expected), .retry(let milliseconds)): expected == milliseconds
            case (.opened, .open): true
            case (.closed, .closed(_, false)): true
            case (.failed(let status), .closed(let reason, true)): status.map { reason.contains("HTTP \($0)") } ?? true
            case (.reconnected(let expected), .connecting(_, _, let sent)): openedBefore && (expected == nil || sent == expected)
            default: false
            }
        }
    }

    static func field(_ path: [String], in data: String) -> JSONValue? {
        (try? JSONValue(parsing: data)).flatMap { field(path, in: $0) }
    }

    /// The value at `path` (object keys, array indices) in `document`.
    static func field(_ path: [String], in document: JSONValue) -> JSONValue? {
        var value = document
        for key in path {
            if let next = value[key] {
                value = next
            } else if case .array(let items) = value, let index = Int(key), items.indices.contains(index) {
                value = items[index]
            } else {
                return nil
            }
        }
        return value
    }

    static func matches(_ value: JSONValue, _ expected: String) -> Bool {
        if case .string(let string) = value { return string == expected }
        return value.serialized == expected
    }
}

/// What one client saw, for expectations: the items not yet consumed by an expectation, in order.
///
/// Invariant: at most `limit` items are kept. Consumed items go first; if a client receives more
/// than `limit` items no expectation looks at, the oldest go too — a long REPL session on a fast
/// stream never grows memory without bound.
struct SeenLog: Sendable {
    let limit: Int
    private(set) var items: [ClientEvent] = []
    /// Items before this index were consumed by expectations.
    private(set) var cursor = 0
    /// How many items went from the front: `dropped + index` names an item for good.
    private(set) var dropped = 0
    /// The index of the first `.open` in `items`, or -1 when one was dropped from the front.
    private var firstOpen: Int?

    init(limit: Int = 10_000) { self.limit = limit }

    mutating func append(_ event: ClientEvent) {
        if case .open = event, firstOpen == nil { firstOpen = items.count }
        items.append(event)
        guard items.count > limit else { return }
        let drop = max(cursor, items.count - limit)
        items.removeFirst(drop)
        dropped += drop
        cursor -= min(cursor, drop)
        firstOpen = firstOpen.map { $0 < drop ? -1 : $0 - drop }
    }

    /// Indices (into `items`) after the cursor that satisfy `expectation`.
    func matches(_ expectation: Expectation) -> [Int] {
        items.indices.dropFirst(cursor).filter { index in
            expectation.matches(items[index], openedBefore: firstOpen.map { $0 < index } ?? false)
        }
    }

    /// The items not consumed yet.
    var pending: ArraySlice<ClientEvent> { items[cursor...] }

    /// Consumes the items up to the one `dropped + index` named.
    mutating func consume(throughLasting position: Int) { cursor = max(cursor, position - dropped + 1) }
}
