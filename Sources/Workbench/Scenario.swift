import EventStream
import SSEServer

/// An `on-connect STREAM … end` block: the lines played afresh to each new connection of the stream.
///
/// Invariant: every line was lexed, parsed and checked when the block was read (a line whose typed
/// values come from `${request.…}` is parsed again, filled in, for each connection); `if`/`else`/`end`
/// are balanced.
struct Scenario: Sendable {
    var stream: String
    var steps: [ScenarioStep]
    /// Where the block starts (`file:line`), for messages.
    var origin: String?
}

/// One line of a block, or a conditional with its two branches.
indirect enum ScenarioStep: Sendable {
    case command(line: String, origin: String?)
    case conditional(ScenarioCondition, then: [ScenarioStep], otherwise: [ScenarioStep])
}

/// `if request.X=VALUE` (equality) or `if request.X` (presence).
struct ScenarioCondition: Sendable, Hashable {
    var reference: RequestReference
    var expected: String?

    init(parsing text: String, column: Int) throws(CommandError) {
        let equals = text.firstIndex(of: "=")
        let name = String(text[..<(equals ?? text.endIndex)])
        reference = try RequestReference(parsing: name, column: column)
        expected = equals.map { String(text[text.index(after: $0)...]) }
    }

    func holds(for request: ScenarioRequest) -> Bool {
        guard let value = reference.value(in: request) else { return false }
        return expected.map { $0 == value } ?? true
    }
}

/// What a block sees of its connection's request.
struct ScenarioRequest: Sendable {
    let incoming: IncomingRequest
    /// 1 for the first connection the block played to, and so on.
    let number: Int
    /// The body as UTF-8 text (invalid bytes replaced).
    let body: String
    /// The body read as JSON, once; nil when it is not JSON.
    let json: JSONValue?

    init(incoming: IncomingRequest, number: Int) {
        self.incoming = incoming
        self.number = number
        body = String(decoding: incoming.body, as: UTF8.self)
        json = body.isEmpty ? nil : try? JSONValue(parsing: body)
    }
}

/// A part of the request: `request.method`, `.path`, `.query.NAME`, `.header.NAME`, `.body`,
/// `.json.FIELD.PATH` (array items by index) or `.number`.
enum RequestReference: Sendable, Hashable {
    case method, path, body, number
    case query(String)
    case header(String)
    case json([String])

    static let forms = "request.method, request.path, request.query.NAME, request.header.NAME, request.body, request.json.FIELD.PATH, request.number"

    init(parsing text: String, column: Int) throws(CommandError) {
        let parts = text.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.first == "request", parts.count >= 2 else {
            throw CommandError("'\(text)' is not a part of the request; use \(Self.forms)", column: column)
        }
        let rest = parts.count > 2 ? parts[2] : nil
        switch (parts[1], rest) {
        case ("method", nil): self = .method
        case ("path", nil): self = .path
        case ("body", nil): self = .body
        case ("number", nil): self = .number
        case ("query", let name?) where !name.isEmpty: self = .query(name)
        case ("header", let name?) where HTTPSyntax.isToken(name): self = .header(name)
        case ("json", let path?) where !path.isEmpty && !path.split(separator: ".", omittingEmptySubsequences: false).contains(""):
            self = .json(path.split(separator: ".").map(String.init))
        default:
            throw CommandError("'\(text)' is not a part of the request; use \(Self.forms)", column: column)
        }
    }

    /// The value, or nil when the request has none (no such header, query parameter or JSON field).
    func value(in request: ScenarioRequest) -> String? {
        let incoming = request.incoming
        switch self {
        case .method: return incoming.method
        case .path: return incoming.path
        case .body: return request.body
        case .number: return String(request.number)
        case .query(let name): return incoming.query[name]
        case .header(let name): return incoming.header(name)
        case .json(let path):
            guard let json = request.json, let value = Expectation.field(path, in: json) else { return nil }
            if case .string(let text) = value { return text }
            return value.serialized
        }
    }
}

/// `${request.…}` references in a line's words: found when a block is read, filled in for each
/// connection. They are filled into words after the line was split into words, so a value holding
/// quotes, spaces or `#` stays inside its word: a request cannot add words or commands to a line.
enum RequestExpansion {
    /// The references in `text` with the column each starts at (`column` is the text's own);
    /// throws at the first malformed one.
    static func references(in text: String, column: Int) throws(CommandError) -> [RequestReference] {
        var found: [RequestReference] = []
        var rest = Substring(text)
        while let start = rest.firstRange(of: "${request.") {
            let at = column + text.distance(from: text.startIndex, to: start.lowerBound)
            guard let end = rest[start.lowerBound...].firstIndex(of: "}") else {
                throw CommandError("unterminated ${ in a request reference", column: at)
            }
            let name = String(rest[rest.index(start.lowerBound, offsetBy: 2)..<end])
            found.append(try RequestReference(parsing: name, column: at))
            rest = rest[rest.index(after: end)...]
        }
        return found
    }

    /// The most bytes a line may hold once its references are filled in: 4 MiB (a body of the 1 MiB
    /// the server takes, four times over).
    static let maxExpandedSize = 4 << 20

    /// `words` with every reference replaced by its value (empty when the request has none); throws
    /// when the line grows past `maxExpandedSize`.
    static func expand(_ words: [Word], for request: ScenarioRequest) throws(CommandError) -> [Word] {
        var size = 0
        let expanded = words.map { word in
            guard word.text.contains("${request.") else { return word }
            var expanded = word
            var output = ""
            var rest = Substring(word.text)
            while let start = rest.firstRange(of: "${request."), let end = rest[start.lowerBound...].firstIndex(of: "}") {
                output += rest[..<start.lowerBound]
                let name = String(rest[rest.index(start.lowerBound, offsetBy: 2)..<end])
                output += (try? RequestReference(parsing: name, column: 0))?.value(in: request) ?? ""
                rest = rest[rest.index(after: end)...]
            }
            expanded.text = output + rest
            size += expanded.text.utf8.count
            return expanded
        }
        guard size <= maxExpandedSize else {
            throw CommandError("the line holds \(size) bytes once the request's values are filled in, over the limit of 4 MiB", column: 1)
        }
        return expanded
    }
}

/// What `help on-connect` and `help if` explain (and the manual, from the same table).
enum ScenarioHelp {
    static let onConnect = """
        The lines between on-connect STREAM and end play afresh to each new connection of STREAM, aimed at it alone:
        emit, comment and every fault (drop, stall, delay, chunk, corrupt) on STREAM reach only that connection,
        while emits outside the block still reach every client. The server holds each connection until the block
        answers it: reject STREAM STATUS (body=, header=) refuses it, anything else sent subscribes it first, and a
        block that ends without either subscribes it then. sleep waits (before the first send it delays the answer).
        id=auto counts per connection. Lines on other streams act as they do anywhere. A block is checked as it is
        read; a stream with a block keeps it until the session ends.
        In a block's lines, ${request.PART} is the request's value (empty when it has none), filled into its word
        after the line is split into words, so a value cannot add words:
          ${request.method}        GET, POST, …
          ${request.path}          the path, without the query
          ${request.query.NAME}    a query parameter
          ${request.header.NAME}   a header, e.g. ${request.header.Last-Event-ID}
          ${request.body}          the body
          ${request.json.PATH}     a field of a JSON body (messages.0.content)
          ${request.number}        1 for the block's first connection, 2 for the next, …
        if request.PART=VALUE (or if request.PART, present) … else … end picks lines by the request.
        A stream given path=/some/path (and method=POST) answers there too: a mock of someone's endpoint.
        drip serve --script FILE plays the top level once and the blocks to every connection until stopped.
        """

    static let condition = """
        if request.PART=VALUE holds when the request's PART is VALUE exactly; if request.PART holds when the
        request has it (a header or query parameter sent, a JSON field present). PART is one of method, path,
        query.NAME, header.NAME, body, json.PATH and number, as in ${request.PART}. else and end close it; ifs nest.
        """
}
