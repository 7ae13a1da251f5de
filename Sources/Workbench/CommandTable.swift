/// What a value in the command language must look like; checked when a line is parsed.
public enum ValueKind: Sendable, Hashable {
    case text
    /// Text, or `@FILE` for the contents of a file (read when the command runs).
    case data
    case name
    case url
    case duration
    case size
    case integer
    case number
    /// `on` or `off`.
    case toggle
    /// One of a fixed set of words, each with its meaning (shown by `help`, the manual and completion).
    case choice([Choice])
    case path

    /// The choices of a `.choice` kind (none for the others).
    var choices: [Choice] {
        if case .choice(let choices) = self { choices } else { [] }
    }

    var placeholder: String {
        switch self {
        case .text: "TEXT"
        case .data: "DATA|@FILE"
        case .name: "NAME"
        case .url: "URL"
        case .duration: "DURATION"
        case .size: "SIZE"
        case .integer: "N"
        case .number: "X"
        case .toggle: "on|off"
        case .choice(let choices): choices.map(\.word).joined(separator: "|")
        case .path: "FILE"
        }
    }
}

/// A word a `.choice` value may be, and what it means.
public struct Choice: Sendable, Hashable {
    public var word: String
    public var meaning: String

    public init(_ word: String, _ meaning: String) {
        self.word = word
        self.meaning = meaning
    }
}

/// A positional argument of a command.
public struct ArgumentSpec: Sendable, Hashable {
    public var name: String
    public var kind: ValueKind
    public var isOptional: Bool
    /// The last argument may take the rest of the line's words (joined with spaces).
    public var takesRest: Bool

    public init(_ name: String, _ kind: ValueKind, optional: Bool = false, rest: Bool = false) {
        self.name = name
        self.kind = kind
        self.isOptional = optional
        self.takesRest = rest
    }
}

/// A `key=value` option of a command.
public struct OptionSpec: Sendable, Hashable {
    public var name: String
    public var kind: ValueKind
    public var summary: String
    public var repeatable: Bool

    public init(_ name: String, _ kind: ValueKind, _ summary: String, repeatable: Bool = false) {
        self.name = name
        self.kind = kind
        self.summary = summary
        self.repeatable = repeatable
    }
}

/// The name of every command of the language: what the engine dispatches on, exhaustively, so a
/// command in the table without code behind it does not compile.
public enum CommandName: String, CaseIterable, Sendable, Hashable {
    case serve
    case stop
    case stream
    case connect
    case close
    case emit
    case comment
    case drop
    case stall
    case delay
    case chunk
    case corrupt
    case reject
    case proxy
    case skip
    case duplicate
    case rewrite
    case post
    case check
    case cut
    case clients
    case streams
    case status
    case history
    case log
    case sleep
    case expect
    case expectNot = "expect-not"
    case wait
    case record
    case timeline
    case replay
    case onConnect = "on-connect"
    case `if`
    case `else`
    case end
    case help
    case quit
}

/// One command of the language: the single description from which the parser, `help`, tab
/// completion and the man page's command list all come.
public struct CommandSpec: Sendable, Hashable {
    public var command: CommandName
    /// The word typed for it.
    public var name: String { command.rawValue }
    public var arguments: [ArgumentSpec]
    public var options: [OptionSpec]
    public var summary: String
    public var discussion: String
    public var examples: [String]

    public init(
        _ command: CommandName, arguments: [ArgumentSpec] = [], options: [OptionSpec] = [], summary: String, discussion: String = "",
        examples: [String] = []
    ) {
        self.command = command
        self.arguments = arguments
        self.options = options
        self.summary = summary
        self.discussion = discussion
        self.examples = examples
    }

    /// `emit STREAM [event=NAME] …` — the usage line shown by `help` and errors.
    public var usage: String {
        var parts = [name]
        for argument in arguments {
            let text = argument.name.uppercased() + (argument.takesRest ? "…" : "")
            parts.append(argument.isOptional ? "[\(text)]" : text)
        }
        for option in options { parts.append("[\(option.name)=\(option.kind.placeholder)]") }
        return parts.joined(separator: " ")
    }

    public func option(named name: String) -> OptionSpec? { options.first { $0.name == name } }
}

/// Every command of the language, in the order `help` lists them.
public enum CommandTable {
    static let target = ArgumentSpec("stream", .name)
    static let client = OptionSpec("client", .integer, "only this client of the stream (its id, as `streams` lists it)")
    static let proxyConnection = OptionSpec("conn", .integer, "on a proxy: only this exchange (its number, p1#N)")
    static let proxyTarget = ArgumentSpec("proxy", .name)

    public static let commands: [CommandSpec] = [
        CommandSpec(
            .serve, arguments: [ArgumentSpec("address", .text, optional: true)],
            options: [
                OptionSpec("token", .text, "require this token for streams and publishing"),
                OptionSpec("cors", .text, "allow this origin (repeatable; any origin when none)", repeatable: true),
                OptionSpec("history", .integer, "events each new stream keeps for resumption"),
                OptionSpec("heartbeat", .duration, "comment interval of new streams (0: none)"),
                OptionSpec("retry", .duration, "the retry: new streams announce on connect"),
                OptionSpec("tls", .toggle, "serve HTTPS with HTTP/2 and HTTP/1.1 (a certificate made at start unless cert= and key=)"),
                OptionSpec("cert", .path, "with tls=on: the certificate chain to serve (PEM)"),
                OptionSpec("key", .path, "with tls=on: its private key (PEM, unencrypted)"),
            ],
            summary: "start the embedded server (127.0.0.1, port 0 = any free port, printed)",
            examples: ["serve", "serve 127.0.0.1:8080", "serve :0 heartbeat=5s retry=2s", "serve tls=on"]),
        CommandSpec(.stop, summary: "stop the embedded server, ending every stream cleanly", examples: ["stop"]),
        CommandSpec(
            .stream, arguments: [ArgumentSpec("stream", .name)],
            options: [
                OptionSpec("history", .integer, "events kept for Last-Event-ID resumption"),
                OptionSpec("heartbeat", .duration, "comment interval (0: none)"),
                OptionSpec("retry", .duration, "the retry: announced to each newcomer"),
                OptionSpec("initial", .data, "data of the event each newcomer gets first"),
                OptionSpec("initial-event", .text, "type of that event"),
                OptionSpec("presence", .toggle, "broadcast a viewers event with the count as clients join and leave"),
                OptionSpec("idle-timeout", .duration, "close clients sent no event for this long (0: never)"),
                OptionSpec("path", .text, "serve the stream at this path too (a mock of someone's endpoint; the query is ignored)"),
                OptionSpec("method", .text, "the methods that path answers, e.g. POST or GET,POST (default GET)"),
            ],
            summary: "configure a stream (created on first use)",
            examples: [
                "stream news history=100 heartbeat=15s retry=2s", "stream dashboard initial='{\"users\":3}' initial-event=state",
                "stream chat path=/v1/chat/completions method=POST",
            ]),
        CommandSpec(
            .connect, arguments: [ArgumentSpec("client", .name), ArgumentSpec("url", .text, optional: true)],
            options: [
                OptionSpec("method", .text, "request method (POST when body= is given)"),
                OptionSpec("header", .text, "a request header 'Name: value' (repeatable)", repeatable: true),
                OptionSpec("body", .data, "request body"),
                OptionSpec("last-event-id", .text, "Last-Event-ID for the first request"),
                OptionSpec("reconnect", .toggle, "reconnect when the stream ends (default on)"),
                OptionSpec("max-retries", .integer, "give up after this many failed reconnections"),
                OptionSpec("backoff", .number, "multiply the delay by this after each failure"),
                OptionSpec("jitter", .number, "take up to this share off each delay at random"),
                OptionSpec("read-timeout", .duration, "a silent stream counts as broken after this"),
                OptionSpec("insecure", .toggle, "skip TLS certificate verification"),
                OptionSpec("cacert", .path, "also trust the certificates in this PEM file"),
                OptionSpec(
                    "http",
                    .choice([
                        Choice("2", "over https, require HTTP/2 (ALPN h2)"), Choice("1.1", "over https, speak HTTP/1.1 only"),
                        Choice("any", "HTTP/2 when the server offers it (the default)"),
                    ]), "which HTTP to speak over https"),
                OptionSpec("event", .text, "print only events of this type (repeatable)", repeatable: true),
                OptionSpec("pretty", .toggle, "pretty-print event data that is a JSON object"),
                OptionSpec("via", .name, "connect through this proxy: a path goes to it instead of the embedded server"),
            ],
            summary: "open a named client on a URL, or on a stream of the embedded server by name (default: the client's name)",
            examples: [
                "connect c1 http://127.0.0.1:8080/streams/news", "connect c2 news",
                "connect llm https://api.example.test/v1/chat method=POST header='Authorization: Bearer …' body=@req.json",
            ]),
        CommandSpec(
            .close, arguments: [ArgumentSpec("client", .name)], summary: "close a named client or proxy", examples: ["close c1", "close p1"]),
        CommandSpec(
            .emit, arguments: [ArgumentSpec("stream", .name)],
            options: [
                OptionSpec("event", .text, "event type (default message)"),
                OptionSpec("id", .text, "event id; auto takes the stream's next number"),
                OptionSpec("data", .data, "event data; \\n makes several data lines"),
                OptionSpec("retry", .duration, "a retry: field with the event"),
                OptionSpec("to", .integer, "send to this client id only"),
            ],
            summary: "publish an event to a stream's subscribers",
            examples: ["emit news event=tick id=auto data='{\"n\":1}'", "emit news data='line one\\nline two'"]),
        CommandSpec(
            .comment, arguments: [ArgumentSpec("stream", .name), ArgumentSpec("text", .text, rest: true)],
            summary: "send a comment line to a stream", examples: ["comment news keep-alive"]),
        CommandSpec(
            .drop, arguments: [target],
            options: [
                OptionSpec(
                    "mode",
                    .choice([
                        Choice("clean", "end the response properly (the last chunk), as a server that finishes a stream"),
                        Choice("truncate", "close the connection without the last chunk, as a server or proxy that crashed"),
                        Choice("reset", "abort with a TCP reset (RST), as a network that drops the connection"),
                        Choice("stream", "HTTP/2: reset this stream alone (RST_STREAM), its siblings go on; HTTP/1.1: as truncate"),
                        Choice("connection", "HTTP/2: GOAWAY and close, breaking every stream of the connection; HTTP/1.1: as truncate"),
                    ]), "how to end it (default clean)"), client,
                OptionSpec("after", .integer, "on a proxy: end each stream right after this many more events have passed"), proxyConnection,
            ],
            summary: "server side: close a stream's clients (or one of them); on a proxy, its streams, now or after N events",
            examples: ["drop news", "drop news client=3 mode=reset", "drop p1 mode=reset after=3"]),
        CommandSpec(
            .stall, arguments: [target, ArgumentSpec("duration", .duration)], options: [client, proxyConnection],
            summary: "stop writing to a stream (or one client, or a proxy's streams) for a while",
            examples: ["stall news 5s"]),
        CommandSpec(
            .delay, arguments: [target, ArgumentSpec("duration", .duration)], options: [client, proxyConnection],
            summary: "add latency to every event, on a stream or a proxy (0 removes it)",
            examples: ["delay news 200ms"]),
        CommandSpec(
            .chunk, arguments: [target, ArgumentSpec("size", .text)],
            options: [OptionSpec("interval", .duration, "time between pieces (default 10ms)"), client, proxyConnection],
            summary: "write the next frames in N-byte pieces (off: whole frames again)", examples: ["chunk news 3", "chunk news off"]),
        CommandSpec(
            .corrupt,
            arguments: [
                target,
                ArgumentSpec(
                    "kind",
                    .choice([
                        Choice("bare-cr", "end the event's lines with CR alone instead of LF"),
                        Choice("invalid-utf8", "put the bytes FF FE (not UTF-8) at the start of its data"),
                        Choice("long-line", "send a data line of size= bytes (default 1MB) before it"),
                        Choice("no-blank-line", "leave out the blank line that ends it, so it runs into the next"),
                    ])),
            ],
            options: [OptionSpec("size", .size, "length of the long line (default 1MB)"), client, proxyConnection],
            summary: "malform the next event: bare CR line ends, invalid UTF-8, a long line, no blank line",
            examples: ["corrupt news bare-cr", "corrupt news long-line size=1MB"]),
        CommandSpec(
            .reject, arguments: [ArgumentSpec("stream", .name), ArgumentSpec("status", .text)],
            options: [
                OptionSpec("location", .text, "redirect target for 301, 302, 303, 307, 308"),
                OptionSpec("count", .integer, "how many connections (default 1; in an on-connect block, its own connection)"),
                OptionSpec("body", .data, "the answer's body (application/json when it is JSON)"),
                OptionSpec("header", .text, "a header of the answer, 'Name: value' (repeatable)", repeatable: true),
            ],
            summary:
                "answer the next connections with a status, a redirect, or wrong-type (a 200 that is not an event stream); on a proxy, without asking the upstream",
            examples: [
                "reject news 503", "reject news 204", "reject news 307 location=/streams/other", "reject news wrong-type",
                "reject chat 401 body='{\"error\":\"token expired\"}' header='WWW-Authenticate: Bearer'", "reject p1 503 count=2",
            ]),
        CommandSpec(
            .proxy, arguments: [proxyTarget, ArgumentSpec("upstream", .text, optional: true)],
            options: [
                OptionSpec("listen", .text, "HOST:PORT to listen on (default 127.0.0.1:0, a free port)"),
                OptionSpec("insecure", .toggle, "skip TLS certificate verification of an https upstream"),
                OptionSpec("cacert", .path, "also trust the certificates in this PEM file (repeatable)", repeatable: true),
                OptionSpec("capture", .path, "write what passes as a mock-server script for drip serve --script"),
                OptionSpec("secrets", .toggle, "with capture=: keep tokens in what it writes (default off: ***)"),
            ],
            summary: "stand between a client and a server (default: the embedded one): forward everything, show and break event streams",
            discussion: ProxyHelp.proxy,
            examples: [
                "proxy p1 https://api.example.test", "proxy p1", "proxy p2 http://127.0.0.1:9000 listen=127.0.0.1:8081",
                "proxy p3 http://127.0.0.1:9000 capture=mock.drip",
            ]),
        CommandSpec(
            .skip, arguments: [proxyTarget], options: [OptionSpec("count", .integer, "how many events (default 1)"), proxyConnection],
            summary: "on a proxy: swallow the next events, so the client never sees them", examples: ["skip p1", "skip p1 count=3 conn=2"]),
        CommandSpec(
            .duplicate, arguments: [proxyTarget], options: [OptionSpec("count", .integer, "how many events (default 1)"), proxyConnection],
            summary: "on a proxy: write the next events twice", examples: ["duplicate p1"]),
        CommandSpec(
            .rewrite, arguments: [proxyTarget],
            options: [
                OptionSpec("retry", .duration, "replace every retry field with this, and announce it first"),
                OptionSpec("id", .toggle, "off: leave out every id field"), proxyConnection,
            ],
            summary: "on a proxy: change fields of events on their way through", examples: ["rewrite p1 retry=100ms", "rewrite p1 id=off"]),
        CommandSpec(
            .check,
            arguments: [
                ArgumentSpec(
                    "side",
                    .choice([
                        Choice("server", "grade the SSE server at URL as EventSource sees it"),
                        Choice("client", "listen, let a client connect, and grade what it does next"),
                    ])),
                ArgumentSpec("url", .text, optional: true),
            ],
            options: [
                OptionSpec(
                    "publish", .text,
                    "server: where a POST publishes one event to the stream (its body is the data); a /path is the embedded server's"),
                OptionSpec("header", .text, "server: a request header 'Name: value' sent with every request (repeatable)", repeatable: true),
                OptionSpec("origin", .text, "server: ask as a page of this origin would (the cors check)"),
                OptionSpec("idle-budget", .duration, "server: the longest silence allowed on the stream (default 30s)"),
                OptionSpec("listen", .text, "client: HOST:PORT to listen on (default 127.0.0.1:0, a free port)"),
                OptionSpec(
                    "end",
                    .choice([
                        Choice("204", "the last answer is a 204: the client must stop"),
                        Choice("500", "the last answer is a 500: no hot reconnect loop"),
                        Choice("wrong-type", "the last answer is a 200 of text/plain: no hot reconnect loop"),
                    ]), "client: the last answer (default 204)"),
                OptionSpec("timeout", .duration, "client: the most the run may take, waiting for the client included (default 120s)"),
            ],
            summary: "grade an SSE server (check server URL) or an SSE client (check client): each check PASS, WARN or FAIL with its evidence",
            discussion: CheckHelp.check,
            examples: [
                "check server http://127.0.0.1:8080/streams/news publish=http://127.0.0.1:8080/streams/news?id=auto",
                "check server /streams/news publish=/streams/news?id=auto idle-budget=20s", "check client end=500",
            ]),
        CommandSpec(
            .post, arguments: [ArgumentSpec("url", .text)],
            options: [
                OptionSpec("body", .data, "the request body"),
                OptionSpec("header", .text, "a request header 'Name: value' (repeatable)", repeatable: true),
                OptionSpec("method", .text, "the method (default POST)"),
                OptionSpec("status", .integer, "expect this status: the line becomes an expectation"),
                OptionSpec("max-response", .size, "keep at most this much of the answer (default 1MiB; more is an error)"),
                OptionSpec("timeout", .duration, "give up when the whole answer has not come in this long (default 30s)"),
            ],
            summary: "send an HTTP request (a path like /streams/chat goes to the embedded server) and show the answer",
            examples: ["post /streams/chat body='hello' header='Content-Type: text/plain'", "post /streams/chat?event=message&id=auto body=hi"]),
        CommandSpec(
            .cut, arguments: [ArgumentSpec("client", .name)], summary: "client side: close the connection and let the client reconnect",
            examples: ["cut c1"]),
        CommandSpec(.clients, summary: "list the named clients and their states", examples: ["clients"]),
        CommandSpec(.streams, summary: "list the server's streams and their subscribers", examples: ["streams"]),
        CommandSpec(.status, summary: "show servers, clients and settings", examples: ["status"]),
        CommandSpec(.history, arguments: [ArgumentSpec("stream", .name)], summary: "show a stream's history", examples: ["history news"]),
        CommandSpec(
            .log,
            options: [
                OptionSpec(
                    "level",
                    .choice([
                        Choice(
                            "quiet",
                            "only clients' state changes, the server's log, failures and errors: no event lines, results or passed expectations"),
                        Choice("normal", "every line (the default)"),
                    ]), "how much to show"),
                OptionSpec("raw", .toggle, "show raw bytes and read boundaries"),
                OptionSpec("timestamps", .toggle, "prefix lines with the time"),
            ],
            summary: "change what is shown", examples: ["log raw=on timestamps=on"]),
        CommandSpec(.sleep, arguments: [ArgumentSpec("duration", .duration)], summary: "wait (Ctrl-C interrupts)", examples: ["sleep 500ms"]),
        CommandSpec(
            .expect, arguments: [ArgumentSpec("client", .name), ArgumentSpec("matchers", .text, optional: true, rest: true)],
            summary: "wait for a client to see something; a script fails when it does not",
            discussion: Expectation.matcherHelp,
            examples: [
                "expect c1 event=tick data~'\"n\":1' within 2s", "expect c1 data.n=2", "expect c1 count=3 event=tick",
                "expect c1 reconnected last-event-id=7 within 5s", "expect c1 failed status=503",
            ]),
        CommandSpec(
            .expectNot, arguments: [ArgumentSpec("client", .name), ArgumentSpec("matchers", .text, optional: true, rest: true)],
            summary: "check that a client does not see something for a while", discussion: Expectation.matcherHelp,
            examples: ["expect-not c1 event=tick within 1s"]),
        CommandSpec(
            .wait, arguments: [ArgumentSpec("client", .name), ArgumentSpec("matchers", .text, optional: true, rest: true)],
            summary: "like expect, but only waits: a timeout is reported, not a failure", discussion: Expectation.matcherHelp,
            examples: ["wait c1 opened within 3s"]),
        CommandSpec(
            .record, arguments: [ArgumentSpec("file", .path)],
            options: [
                OptionSpec("secrets", .toggle, "write Authorization headers and tokens as typed (default off: ***; on with drip --record-secrets)")
            ],
            summary:
                "write this session to a script: the commands, sleeps for the pauses, and an expect line for every event seen ('record stop' ends it)",
            examples: ["record session.drip", "record stop"]),
        CommandSpec(
            .timeline, arguments: [ArgumentSpec("file", .path)],
            summary: "write the session so far as a picture: an HTML report with its timeline drawn (FILE.html), or JSON lines (any other name)",
            discussion:
                "The report opens from disk with nothing else: lanes for the session, each server connection, each client (a reconnection is the next segment of its lane) and each proxied exchange; events as dots (hollow when replayed from history), drops as red crosses, the wait before a reconnection as a dashed gap with its length, the Last-Event-ID a resume carried, and every expectation's verdict. drip run --report writes the same for scripts.",
            examples: ["timeline lesson.html", "timeline session.jsonl"]),
        CommandSpec(
            .replay, arguments: [ArgumentSpec("file", .path)],
            options: [
                OptionSpec("speed", .number, "run the clock this many times faster: sleeps, deadlines and every server and client timer (default 1)")
            ],
            summary: "run a script in a workbench of its own (as drip run does), printing here; this session's server and clients carry on",
            examples: ["replay session.drip speed=10"]),
        CommandSpec(
            .onConnect, arguments: [ArgumentSpec("stream", .name)],
            summary: "play the lines up to 'end' to each new connection of a stream, aimed at it alone (a mock server)",
            discussion: ScenarioHelp.onConnect,
            examples: [
                "on-connect chat", "  emit chat event=delta data='{\"text\":\"Hel\"}'", "  sleep 40ms", "  emit chat data='[DONE]'", "  drop chat",
                "end",
            ]),
        CommandSpec(
            .if, arguments: [ArgumentSpec("condition", .text)],
            summary: "in an on-connect block: run the lines up to 'else' or 'end' when the request matches",
            discussion: ScenarioHelp.condition,
            examples: ["if request.header.Last-Event-ID=3", "if request.header.Authorization", "if request.number=1"]),
        CommandSpec(.else, summary: "in an on-connect block: the lines run when the 'if' before did not match", examples: ["else"]),
        CommandSpec(.end, summary: "ends an on-connect block or an if", examples: ["end"]),
        CommandSpec(
            .help, arguments: [ArgumentSpec("command", .text, optional: true)], summary: "list the commands, or explain one",
            examples: ["help", "help emit"]),
        CommandSpec(.quit, summary: "close every server and client and leave", examples: ["quit"]),
    ]

    public static func command(named name: String) -> CommandSpec? { commands.first { $0.name == name } }

    /// The fault commands whose target may be a proxy as well as a stream.
    static let proxyFaults: Set<CommandName> = [.drop, .stall, .delay, .chunk, .corrupt, .reject]

    /// The candidates closest to `word` (edit distance at most 2, or a shared prefix), best first.
    public static func suggestions(for word: String, among candidates: [String]) -> [String] {
        let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
        let close = scored.filter { $0.1 <= max(1, min(2, word.count / 2)) || ($0.0.hasPrefix(word) && !word.isEmpty) }
        return close.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// Edits (insert, delete, replace, swap of neighbours) from `a` to `b`.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1) }
            }
        }
        return table[a.count][b.count]
    }
}
