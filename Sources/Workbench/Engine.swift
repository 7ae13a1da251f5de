import EventStream
import SSEClient
import SSEServer

/// Something the workbench did or saw, reported to whoever drives it (the REPL prints it; scripts
/// will check it).
public enum WorkbenchEvent: Sendable, Hashable {
    /// The outcome of a command.
    case info(String)
    /// A command that could not run: the message and the column of the offending word.
    case failure(CommandError)
    /// The embedded server reported something.
    case server(ServerLogEntry)
    /// A named client saw something.
    case client(name: String, event: ClientEvent)
    /// An `expect`, `expect-not` or `wait` ended: whether it held, what it was, and (when not) what
    /// the client saw instead.
    case expectation(passed: Bool, summary: String, detail: String)
}

/// The engine behind the REPL and scripts: it holds the embedded server and the named clients and
/// runs parsed commands against them, reporting every outcome as a `WorkbenchEvent` with the lines
/// a person reads.
///
/// Invariant: one server at most; client names are unique; `shutdown` leaves nothing running.
public actor Engine {
    /// Where events go, with their printed form (empty lines for events the log settings hide).
    public typealias Output = @Sendable (WorkbenchEvent, [String]) -> Void

    struct ClientHandle {
        let url: String
        let task: Task<Void, Never>
        let controller: ClientController
        /// Event types printed for this client (all when empty), and pretty JSON.
        var eventTypes: Set<String> = []
        var pretty = false
        /// What the client saw, for expectations (bounded).
        var seen = SeenLog()
        var state = "connecting"
        var received = 0
        var lastEventId = ""
    }

    private let output: Output
    /// Whether printed lines carry the time (`log timestamps=`); read by the output on any thread.
    private let stamps: LineStamps
    private let sleeper: @Sendable (Duration) async throws -> Void
    private var server: SSEServer?
    private var serverURL: String?
    private var clients: [String: ClientHandle] = [:]
    /// Which server connection is which named client's, for the server's log lines.
    private let directory = ClientDirectory()
    private var style = ClientOutputStyle(comments: true)
    private var quiet = false
    var recorder: Recorder?
    /// What set the session up so far, for a recording that starts midway.
    var setup = SessionSetup()
    /// The outcome of the last expectation, for the recording.
    var lastExpectation: (passed: Bool, detail: String)?
    /// The workbench's clock: sleeps, expectation deadlines, and the server's and clients' timers all
    /// run at its speed (`drip run --speed`, `replay … speed=`).
    private let timeScale: TimeScale
    /// However fast the clock runs, a positive expectation waits at least this long in real time, so a
    /// busy machine cannot fail a compressed script that would pass at speed 1.
    static let minimumRealWait = Duration.milliseconds(250)
    /// Whether `record` keeps secrets as typed when its `secrets=` is not given (`drip --record-secrets`).
    private let recordsSecrets: Bool
    /// The most bytes an `@FILE` value or a replayed script may hold (`drip --max-file-size`).
    private let fileSizeLimit: Int
    /// The version written in recordings' headers.
    public static let version = "0.1.0"

    /// `sleep` is how the `sleep` command waits (tests inject one that does not); `speed` is how fast
    /// the workbench's clock runs (`drip run --speed`); `recordsSecrets` is `record`'s default for `secrets=`.
    public init(
        speed: Double = 1, recordsSecrets: Bool = false, fileSizeLimit: Int = InputFile.defaultSizeLimit,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }, output: @escaping Output
    ) {
        self.timeScale = TimeScale(speed: speed)
        self.recordsSecrets = recordsSecrets
        self.fileSizeLimit = fileSizeLimit
        self.sleeper = sleep
        let stamps = LineStamps()
        self.stamps = stamps
        // Every line the workbench prints — a client's, the server's log, a command's result — gets
        // the time in front of it when `log timestamps=on`, in this one place.
        self.output = { event, lines in
            output(event, stamps.isOn ? lines.map { stamps.now() + " " + $0 } : lines)
        }
    }

    /// Runs one line; false when it asked to quit.
    @discardableResult
    public func execute(_ line: String) async -> Bool {
        do throws(CommandError) {
            guard let command = try CommandParser.parse(line) else { return true }
            let started = ContinuousClock.now
            let pendingBefore = recorder?.pendingCount ?? 0
            let result = try await run(command)
            setup.note(command, line: line)
            if recorder != nil, !Self.unrecorded.contains(command.spec.name) {
                record(command, line: line, startedAt: started, pendingBefore: pendingBefore)
            }
            return result
        } catch {
            report(.failure(error), ["error: \(error.message)"])
            return true
        }
    }

    /// Closes every client and the server.
    public func shutdown() async {
        if var active = recorder, !active.finish() { reportRecordingFailure(active) }
        recorder = nil
        for (name, handle) in clients {
            handle.task.cancel()
            await handle.task.value
            clients[name] = nil
        }
        if let server {
            await server.stop()
            self.server = nil
            serverURL = nil
        }
    }

    /// Client and stream names, for tab completion.
    public func completionNames() async -> (clients: [String], streams: [String]) {
        let streams = (try? await server?.snapshot())?.streams.map(\.name) ?? []
        return (clients.keys.sorted(), streams)
    }

    /// How many servers and clients are live (for the prompt).
    public var liveCounts: (servers: Int, clients: Int) { (server == nil ? 0 : 1, clients.count) }

    // MARK: Commands

    private func run(_ command: ParsedCommand) async throws(CommandError) -> Bool {
        switch command.spec.name {
        case "serve": try await serve(command)
        case "stop": try await stop()
        case "stream": try await configureStream(command)
        case "connect": try await connect(command)
        case "close": try await close(command)
        case "cut": try cut(command)
        case "post": try await post(command)
        case "emit": try await emit(command)
        case "comment": try await comment(command)
        case "drop", "stall", "delay", "chunk", "corrupt", "reject": try await fault(command)
        case "clients": listClients()
        case "streams": try await listStreams()
        case "status": try await status()
        case "history": try await history(command)
        case "log": configureLog(command)
        case "sleep": await sleep(command)
        case "expect", "expect-not", "wait": try await expect(command)
        case "record": try record(command)
        case "replay": try await replay(command)
        case "help": try help(command)
        case "quit": return false
        default: throw CommandError("\(command.spec.name): not available yet", column: 1)
        }
        return true
    }

    private func serve(_ command: ParsedCommand) async throws(CommandError) {
        if let serverURL { throw CommandError("serve: a server is already running on \(serverURL); stop it first", column: 1) }
        let (host, port) = try Self.address(command.arguments["address"])
        if let token = command.options.last(where: { $0.name == "token" }), token.value.text.isEmpty {
            throw CommandError("serve: token= is empty; give a token, or leave token= out", column: token.value.column)
        }
        var defaults = StreamSettings()
        if let history = command.integer("history") { defaults.historySize = history }
        if let heartbeat = command.duration("heartbeat") { defaults.heartbeatMilliseconds = heartbeat.milliseconds }
        if let retry = command.duration("retry") { defaults.retryMilliseconds = retry.milliseconds }
        let configuration = ServerConfiguration(
            host: host, port: port, token: command.option("token"), allowedOrigins: command.values(of: "cors"), streamDefaults: defaults)
        try await startServer(configuration)
    }

    /// Starts the embedded server with `configuration` (`drip serve --script`, whose limits the
    /// `serve` command does not spell); reports the outcome as `serve` does, false when it failed.
    public func serve(_ configuration: ServerConfiguration) async -> Bool {
        do throws(CommandError) {
            if let serverURL { throw CommandError("serve: a server is already running on \(serverURL); stop it first", column: 1) }
            try await startServer(configuration)
            return true
        } catch {
            report(.failure(error), ["error: \(error.message)"])
            return false
        }
    }

    private func startServer(_ configuration: ServerConfiguration) async throws(CommandError) {
        let output = self.output
        let directory = self.directory
        let server = SSEServer(configuration: configuration, timeScale: timeScale) { entry in
            if case .listening = entry { return }
            output(.server(entry), ["server: " + entry.description(clientName: directory.name(for: entry))])
        }
        do {
            let url = SSEServer.url(for: try await server.start())
            self.server = server
            serverURL = url
            report(.info("serving on \(url)"), ["serving on \(url) — streams at \(url)/streams/NAME, viewer at \(url)/"])
        } catch {
            await server.stop()
            throw CommandError("serve: \(error)", column: 1)
        }
    }

    private func stop() async throws(CommandError) {
        guard let server else { throw CommandError("stop: no server is running", column: 1) }
        await server.stop()
        self.server = nil
        serverURL = nil
        report(.info("server stopped"), ["server stopped"])
    }

    private func runningServer(_ command: ParsedCommand) throws(CommandError) -> SSEServer {
        guard let server else { throw CommandError("\(command.spec.name): no server is running; start one with 'serve'", column: 1) }
        return server
    }

    private func configureStream(_ command: ParsedCommand) async throws(CommandError) {
        let server = try runningServer(command)
        let name = command.argument("stream") ?? ""
        let history = command.integer("history")
        let heartbeat = command.duration("heartbeat")
        let retry = command.duration("retry")
        let initial = try command.option("initial").map { text throws(CommandError) in try dataValue(text, command: command) }
        let initialType = command.option("initial-event")
        let presence = command.toggle("presence")
        let idleTimeout = command.duration("idle-timeout")
        let settings = try await serverCall(command) {
            try await server.configure(stream: name) { settings in
                if let history { settings.historySize = history }
                if let heartbeat { settings.heartbeatMilliseconds = heartbeat.milliseconds }
                if let retry { settings.retryMilliseconds = retry.milliseconds }
                if let initial { settings.initialEvent = ServerSentEvent(type: initialType ?? ServerSentEvent.defaultType, data: initial) }
                if let presence { settings.announcesViewers = presence }
                if let idleTimeout { settings.idleTimeoutMilliseconds = idleTimeout.milliseconds }
            }
        }
        report(
            .info("stream \(name) configured"),
            [
                "stream \(name): history \(settings.historySize), heartbeat \(settings.heartbeatMilliseconds) ms, retry "
                    + (settings.retryMilliseconds.map { "\($0) ms" } ?? "not announced")
                    + (settings.initialEvent.map { ", initial \($0.type) event" } ?? "")
                    + (settings.announcesViewers ? ", presence on" : "")
                    + (settings.idleTimeoutMilliseconds > 0 ? ", idle timeout \(settings.idleTimeoutMilliseconds) ms" : "")
            ])
    }

    private func connect(_ command: ParsedCommand) async throws(CommandError) {
        let name = command.argument("client") ?? ""
        if let existing = clients[name], existing.state != "closed", existing.state != "failed" {
            throw CommandError("connect: a client named \(name) is \(existing.state); close it first or pick another name", column: 9)
        }
        let urlText: String
        let given = command.argument("url") ?? name
        if given.contains("://") {
            urlText = given
        } else if given.hasPrefix("/"), let serverURL {
            urlText = serverURL + given
        } else if let serverURL {
            urlText = "\(serverURL)/streams/\(given)"
        } else {
            throw CommandError(
                "connect: give a URL, or start a server with 'serve' to connect to its stream \(given)", column: command.arguments["url"]?.column ?? 1
            )
        }
        let url: HTTPURL
        do { url = try HTTPURL(parsing: urlText) } catch { throw CommandError("connect: \(error)", column: command.arguments["url"]?.column ?? 1) }
        let body = try command.option("body").map { text throws(CommandError) in Array(try dataValue(text, command: command).utf8) }
        let headers = try Self.headers(command)
        var options = ClientOptions(
            request: ClientRequest(
                url: url, method: (command.option("method") ?? (body == nil ? "GET" : "POST")).uppercased(), headers: headers, body: body,
                lastEventId: command.option("last-event-id") ?? ""),
            policy: ReconnectPolicy(
                backoffMultiplier: command.option("backoff").flatMap(Double.init) ?? 1, jitter: command.option("jitter").flatMap(Double.init) ?? 0,
                maxAttempts: command.integer("max-retries")),
            reconnects: command.toggle("reconnect") ?? true,
            readTimeout: command.duration("read-timeout")?.duration,
            reportsRawBytes: true
        )
        do { try options.request.validate() } catch { throw CommandError("connect: \(error)", column: 1) }
        options.timeScale = timeScale
        options.tls = TLSOptions(trustedCertificateFiles: command.values(of: "cacert"), verifiesCertificates: !(command.toggle("insecure") ?? false))
        let controller = ClientController()
        directory.add(name, controller)
        let task = Task { [weak self] in
            await EventSourceClient.run(options, controller: controller) { event in
                await self?.clientSaw(name, event)
            }
            await self?.clientEnded(name)
        }
        clients[name] = ClientHandle(
            url: urlText, task: task, controller: controller, eventTypes: Set(command.values(of: "event")), pretty: command.toggle("pretty") ?? false)
    }

    private func clientSaw(_ name: String, _ event: ClientEvent) {
        if var handle = clients[name] {
            if case .raw = event {} else { handle.seen.append(event) }
            recorder?.saw(event, client: name)
            switch event {
            case .connecting: handle.state = "connecting"
            case .open: handle.state = "open"
            case .reconnecting: handle.state = "connecting"
            case .closed(_, let isFailure): handle.state = isFailure ? "failed" : "closed"
            case .event(let sse):
                handle.received += 1
                handle.lastEventId = sse.id ?? ""
            case .comment, .retry, .raw, .refused: break
            }
            clients[name] = handle
        }
        var clientStyle = style
        clientStyle.timestamps = false  // the output stamps every line
        clientStyle.eventTypes = clients[name]?.eventTypes ?? []
        clientStyle.prettyJSON = clients[name]?.pretty ?? false
        let lines = quiet && !Self.isStateChange(event) ? [] : clientStyle.lines(for: event).map { "\(name): \($0)" }
        report(.client(name: name, event: event), lines)
    }

    /// A client whose run ended stays listed (closed or failed, with its counts) until `close`.
    private func clientEnded(_ name: String) {
        guard var handle = clients[name], handle.state != "failed" else { return }
        handle.state = "closed"
        clients[name] = handle
    }

    private static func isStateChange(_ event: ClientEvent) -> Bool {
        switch event {
        case .connecting, .open, .reconnecting, .closed: true
        default: false
        }
    }

    private func close(_ command: ParsedCommand) async throws(CommandError) {
        let name = command.argument("client") ?? ""
        guard let handle = clients[name] else { throw unknownClient(name, command) }
        handle.task.cancel()
        await handle.task.value
        clients[name] = nil
        directory.remove(name)
    }

    private func cut(_ command: ParsedCommand) throws(CommandError) {
        let name = command.argument("client") ?? ""
        guard let handle = clients[name] else { throw unknownClient(name, command) }
        handle.controller.restart()
        report(.info("cut \(name)"), ["\(name): connection cut from the client side"])
    }

    private func post(_ command: ParsedCommand) async throws(CommandError) {
        let given = command.argument("url") ?? ""
        let urlText: String
        if given.hasPrefix("/") {
            guard let serverURL else { throw CommandError("post: \(given) is a path on the embedded server, but none is running", column: 6) }
            urlText = serverURL + given
        } else {
            urlText = given
        }
        let url: HTTPURL
        do { url = try HTTPURL(parsing: urlText) } catch { throw CommandError("post: \(error)", column: 6) }
        let body = try command.option("body").map { text throws(CommandError) in Array(try dataValue(text, command: command).utf8) } ?? []
        let headers = try Self.headers(command)
        let method = (command.option("method") ?? "POST").uppercased()
        do { _ = try RequestHead(method: method, url: url, headers: headers) } catch { throw CommandError("post: \(error)", column: 1) }
        var limits = HTTPExchange.Limits()
        if let size = command.option("max-response").flatMap(ByteSize.init(parsing:)) { limits.maxResponseSize = size.bytes }
        if let timeout = command.duration("timeout") { limits.timeout = timeScale.wall(timeout.duration) }
        let response: HTTPExchange.Response
        do { response = try await HTTPExchange.send(method, to: url, headers: headers, body: body, limits: limits) } catch {
            throw CommandError("post: \(url): \(EventSourceClient.describeError(error))", column: 6)
        }
        let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: "\n")
        let line = "\(method) \(urlText) → \(response.status)" + (text.isEmpty ? "" : ": \(text)")
        if let expected = command.integer("status") {
            let summary = Self.withoutComment(command.line)
            let passed = response.status == expected
            return report(
                .expectation(passed: passed, summary: summary, detail: passed ? "" : "answered \(response.status)"),
                passed ? (quiet ? [] : ["✓ \(line)"]) : ["✗ \(summary): answered \(response.status)"])
        }
        guard (200..<300).contains(response.status) else { throw CommandError("post: \(line)", column: 1) }
        report(.info(line), quiet ? [] : [line])
    }

    static func headers(_ command: ParsedCommand) throws(CommandError) -> [(name: String, value: String)] {
        try command.values(of: "header").map { header throws(CommandError) -> (name: String, value: String) in
            do { return try RequestHead.header(parsing: header) } catch {
                throw CommandError(
                    "\(command.spec.name): \(error)",
                    column: command.options.last { $0.name == "header" && $0.value.text == header }?.value.column ?? 1)
            }
        }
    }

    private func unknownClient(_ name: String, _ command: ParsedCommand) -> CommandError {
        let hint = CommandTable.suggestions(for: name, among: Array(clients.keys)).first.map { "; did you mean \($0)?" } ?? ""
        return CommandError("\(command.spec.name): no client named \(name)\(hint)", column: command.arguments["client"]?.column ?? 1)
    }

    /// The stream the command names, which must exist: a typo does not create a stream (only
    /// `stream` does, or a client subscribing); the error suggests the nearest existing name.
    private func existingStream(_ command: ParsedCommand, on server: SSEServer) async throws(CommandError) -> String {
        let name = command.argument("stream") ?? ""
        let names = try await serverCall(command) { try await server.snapshot().streams.map(\.name) }
        guard !names.contains(name) else { return name }
        let hint = CommandTable.suggestions(for: name, among: names).first.map { "; did you mean \($0)?" } ?? ""
        let clientHint = clients[name] != nil ? " (\(name) is a client)" : ""
        throw CommandError(
            "\(command.spec.name): no stream named \(name)\(clientHint)\(hint) ('stream \(name)' creates it)",
            column: command.arguments["stream"]?.column ?? 1)
    }

    private func emit(_ command: ParsedCommand) async throws(CommandError) {
        let server = try runningServer(command)
        let stream = try await existingStream(command, on: server)
        let event = ServerSentEvent(
            type: command.option("event") ?? ServerSentEvent.defaultType,
            data: try command.option("data").map { text throws(CommandError) in try dataValue(text, command: command) } ?? "",
            id: command.option("id"),
            retry: command.duration("retry")?.milliseconds)
        let target = command.integer("to")
        let receipt = try await serverCall(command) { try await server.publish(stream: stream, event: event, to: target) }
        let summary =
            "emitted \(event.type)" + (receipt.id.map { " id=\($0)" } ?? "")
            + " to \(stream) → \(receipt.clients) client\(receipt.clients == 1 ? "" : "s")"
        report(.info(summary), quiet ? [] : [summary])
    }

    private func comment(_ command: ParsedCommand) async throws(CommandError) {
        let server = try runningServer(command)
        let stream = try await existingStream(command, on: server)
        let text = command.argument("text") ?? ""
        let count = try await serverCall(command) { try await server.comment(stream: stream, text: text) }
        report(.info("comment to \(stream) → \(count) clients"), quiet ? [] : ["comment to \(stream) → \(count) client\(count == 1 ? "" : "s")"])
    }

    private func fault(_ command: ParsedCommand) async throws(CommandError) {
        let server = try runningServer(command)
        let stream = try await existingStream(command, on: server)
        let audience: Audience = command.integer("client").map(Audience.client) ?? .stream(stream)
        let who = command.integer("client").map { "client \($0)" } ?? stream
        switch command.spec.name {
        case "drop":
            let mode = command.option("mode").flatMap(DropMode.init(rawValue:)) ?? .clean
            let count = try await serverCall(command) { try await server.drop(audience, mode: mode) }
            report(.info("dropped \(count)"), ["dropped \(count) connection\(count == 1 ? "" : "s") of \(who) (\(mode.rawValue))"])
        case "stall":
            let duration = command.duration("duration") ?? DurationValue(clampingMilliseconds: 0)
            try await serverCall(command) { _ = try await server.stall(audience, for: duration.duration) }
            report(.info("stalled \(who)"), ["\(who) stalled for \(duration)"])
        case "delay":
            let duration = command.duration("duration") ?? DurationValue(clampingMilliseconds: 0)
            try await serverCall(command) { _ = try await server.delay(audience, by: duration.milliseconds == 0 ? nil : duration.duration) }
            report(.info("delay \(who)"), [duration.milliseconds == 0 ? "\(who): no added latency" : "\(who): each event delayed by \(duration)"])
        case "chunk":
            let sizeText = command.argument("size") ?? ""
            let size: Int?
            if sizeText == "off" {
                size = nil
            } else if let bytes = ByteSize(parsing: sizeText) {
                size = bytes.bytes
            } else {
                throw CommandError("chunk: SIZE '\(sizeText)' is not a size (3, 1KB) or off", column: command.arguments["size"]?.column ?? 1)
            }
            let interval = command.duration("interval")?.duration ?? .milliseconds(10)
            try await serverCall(command) { _ = try await server.chunk(audience, size: size, interval: interval) }
            report(.info("chunk \(who)"), [size.map { "\(who): frames written in \($0)-byte pieces" } ?? "\(who): whole frames again"])
        case "corrupt":
            let corruption: Corruption =
                switch command.argument("kind") {
                case "bare-cr": .bareCarriageReturns
                case "invalid-utf8": .invalidUTF8
                case "long-line": .longLine(ByteSize(parsing: command.option("size") ?? "")?.bytes ?? 1 << 20)
                default: .noBlankLine
                }
            try await serverCall(command) { try await server.corrupt(audience, corruption) }
            report(.info("corrupt \(who)"), ["\(who): the next event will be malformed (\(command.argument("kind") ?? ""))"])
        default:
            let statusText = command.argument("status") ?? ""
            let count = command.integer("count") ?? 1
            let rejection: Rejection
            if statusText == "wrong-type" {
                rejection = .wrongContentType("text/plain")
            } else if let status = Int(statusText), (100...599).contains(status) {
                if [301, 302, 303, 307, 308].contains(status) {
                    guard let location = command.option("location") else {
                        throw CommandError("reject: a \(status) redirect needs location=URL", column: command.arguments["status"]?.column ?? 1)
                    }
                    rejection = .redirect(status, location: location)
                } else {
                    rejection = .status(status)
                }
            } else {
                throw CommandError(
                    "reject: STATUS '\(statusText)' is not an HTTP status (100–599) or wrong-type", column: command.arguments["status"]?.column ?? 1)
            }
            try await serverCall(command) { try await server.reject(stream: stream, rejection, count: count) }
            report(.info("reject \(stream)"), ["\(stream): the next \(count == 1 ? "connection gets" : "\(count) connections get") \(statusText)"])
        }
    }

    private func listClients() {
        guard !clients.isEmpty else { return report(.info("no clients"), ["no clients; open one with 'connect NAME URL'"]) }
        let rows = clients.keys.sorted().compactMap { name in clients[name].map { [name, $0.state, String($0.received), $0.lastEventId, $0.url] } }
        report(.info("clients"), Self.table(["client", "state", "events", "last id", "url"], rows))
    }

    private func listStreams() async throws(CommandError) {
        guard let server else { return report(.info("no server"), ["no server is running; start one with 'serve'"]) }
        let snapshot = try await serverCall("streams") { try await server.snapshot() }
        guard !snapshot.streams.isEmpty else { return report(.info("no streams"), ["no streams yet; they are created on first use"]) }
        let rows = snapshot.streams.map { stream in
            [
                stream.name, String(stream.clients.count), String(stream.historyCount), stream.lastId ?? "",
                stream.clients.map { "\($0.id) \($0.remote)" }.joined(separator: ", "),
            ]
        }
        report(.info("streams"), Self.table(["stream", "clients", "history", "last id", "subscribers (id remote)"], rows))
    }

    private func status() async throws(CommandError) {
        var lines = [serverURL.map { "server: \($0)" } ?? "server: not running"]
        lines.append(
            "clients: \(clients.isEmpty ? "none" : clients.keys.sorted().map { "\($0) (\(clients[$0]?.state ?? ""))" }.joined(separator: ", "))")
        lines.append("log: \(quiet ? "quiet" : "normal"), raw \(style.raw ? "on" : "off"), timestamps \(style.timestamps ? "on" : "off")")
        report(.info("status"), lines)
    }

    private func history(_ command: ParsedCommand) async throws(CommandError) {
        let server = try runningServer(command)
        let stream = try await existingStream(command, on: server)
        let events = try await serverCall(command) { try await server.history(stream: stream) }
        guard !events.isEmpty else { return report(.info("empty history"), ["\(stream): no events in history"]) }
        report(.info("history"), Self.table(["id", "type", "data"], events.map { [$0.id ?? "", $0.type, $0.data.debugDescription] }))
    }

    private func expect(_ command: ParsedCommand) async throws(CommandError) {
        let name = command.argument("client") ?? ""
        guard clients[name] != nil else { throw unknownClient(name, command) }
        let summary = Self.withoutComment(command.line)
        let expectation = try Expectation.parse(command.restWords, text: summary, command: command.spec.name)
        let verb = command.spec.name
        let started = ContinuousClock.now
        let scaled = timeScale.wall(expectation.deadline)
        let deadline = verb == "expect-not" ? scaled : max(scaled, min(expectation.deadline, Self.minimumRealWait))
        // Regular expressions are matched once per item (by its lasting position), within the deadline.
        var verdicts: [Int: Bool] = [:]
        while true {
            guard let handle = clients[name] else { break }
            var found: [Int] = []
            for index in handle.seen.matches(expectation) {
                let position = handle.seen.dropped + index
                if expectation.patterns.isEmpty || verdicts[position] == true {
                    found.append(index)
                    continue
                }
                guard verdicts[position] == nil, case .event(let event) = handle.seen.items[index] else { continue }
                switch await RegexMatch.all(expectation.patterns, in: event.data, before: started + deadline) {
                case .matched:
                    verdicts[position] = true
                    found.append(index)
                case .notMatched: verdicts[position] = false
                case let outcome:
                    let why =
                        outcome == .busy
                        ? "regular expressions that ran out of time earlier are still running; drip matches no more until they end"
                        : "a regular expression did not finish matching \(event.data.utf8.count) bytes of data within the deadline"
                            + " (a pattern like (a+)+ backtracks without end; drip abandoned it)"
                    return report(.expectation(passed: false, summary: summary, detail: why), ["✗ \(summary): \(why)"])
                }
            }
            if verb == "expect-not", let first = found.first {
                let shown = style.lines(for: handle.seen.items[first]).joined(separator: " ")
                return report(.expectation(passed: false, summary: summary, detail: "saw \(shown)"), ["✗ \(summary): saw \(shown)"])
            }
            if verb != "expect-not", found.count >= expectation.count {
                clients[name]?.seen.consume(throughLasting: handle.seen.dropped + found[expectation.count - 1])
                return report(.expectation(passed: true, summary: summary, detail: ""), quiet ? [] : ["✓ \(summary)"])
            }
            if ContinuousClock.now - started >= deadline || Task.isCancelled { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        if verb == "expect-not" { return report(.expectation(passed: true, summary: summary, detail: ""), quiet ? [] : ["✓ \(summary)"]) }
        let recent =
            clients[name].map { handle in
                handle.seen.pending.suffix(5).flatMap { style.lines(for: $0) }
            } ?? []
        let detail = recent.isEmpty ? "it saw nothing new" : "it saw: " + recent.joined(separator: " | ")
        if verb == "wait" { return report(.info("wait timed out"), ["\(summary): not seen within the deadline; \(detail)"]) }
        report(.expectation(passed: false, summary: summary, detail: detail), ["✗ \(summary): not seen; \(detail)"])
    }

    private func record(_ command: ParsedCommand) throws(CommandError) {
        let path = command.argument("file") ?? ""
        if path == "stop" {
            guard var active = recorder else { throw CommandError("record: nothing is being recorded", column: 8) }
            recorder = nil
            guard active.finish() else { return reportRecordingFailure(active) }
            return report(.info("recorded \(active.path)"), ["recording saved to \(active.path)"])
        }
        if let active = recorder { throw CommandError("record: already recording to \(active.path); 'record stop' first", column: 8) }
        let open = clients.filter { $0.value.state == "open" }.keys.sorted()
        recorder = try Recorder(
            path: path, version: Self.version, keepsSecrets: command.toggle("secrets") ?? recordsSecrets,
            preamble: setup.lines(lastEventIds: clients.mapValues(\.lastEventId)), openClients: open)
        report(.info("recording \(path)"), ["recording to \(path) ('record stop' ends it)"])
    }

    private func replay(_ command: ParsedCommand) async throws(CommandError) {
        let path = command.argument("file") ?? ""
        let text = try dataValue("@" + path, command: command)
        let factor = command.option("speed").flatMap(Double.init) ?? 1
        guard factor > 0 else { throw CommandError("replay: speed must be more than 0", column: 1) }
        // A script sets up its own server and clients, as under drip run: it plays in a workbench of
        // its own, so its serve cannot collide with this session's and its stop stops only its server.
        let workbench = Engine(
            speed: timeScale.speed * factor, recordsSecrets: recordsSecrets, fileSizeLimit: fileSizeLimit, sleep: sleeper, output: output)
        report(.info("replaying \(path)"), ["replaying \(path) in a workbench of its own (this session's server and clients carry on)"])
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !Task.isCancelled {
            let line = String(line)
            if let parsed = try? CommandParser.parse(line), ["record", "replay", "quit"].contains(parsed.spec.name) { continue }
            await workbench.execute(line)
        }
        await workbench.shutdown()
        report(.info("replayed \(path)"), ["replayed \(path); its server and clients are closed"])
    }

    private func configureLog(_ command: ParsedCommand) {
        if let level = command.option("level") { quiet = level == "quiet" }
        if let raw = command.toggle("raw") { style.raw = raw }
        if let timestamps = command.toggle("timestamps") {
            style.timestamps = timestamps
            stamps.isOn = timestamps
        }
        report(.info("log"), ["log: \(quiet ? "quiet" : "normal"), raw \(style.raw ? "on" : "off"), timestamps \(style.timestamps ? "on" : "off")"])
    }

    private func sleep(_ command: ParsedCommand) async {
        guard let duration = command.duration("duration") else { return }
        try? await sleeper(timeScale.wall(duration.duration))
    }

    private func help(_ command: ParsedCommand) throws(CommandError) {
        guard let name = command.argument("command") else {
            let width = CommandTable.commands.map(\.name.count).max() ?? 8
            let lines = CommandTable.commands.map { $0.name.padding(to: width) + "  " + $0.summary }
            return report(.info("help"), lines + ["", "help COMMAND explains one; lines may end with # comments"])
        }
        guard let spec = CommandTable.command(named: name) else {
            let hint = CommandTable.suggestions(for: name, among: CommandTable.commands.map(\.name)).first.map { "; did you mean '\($0)'?" } ?? ""
            throw CommandError("help: no command '\(name)'\(hint)", column: command.arguments["command"]?.column ?? 6)
        }
        report(.info("help \(name)"), HelpText.lines(for: spec))
    }

    // MARK: Helpers

    /// Hands `event` and its lines to the output. A command's own lines (results and errors, which
    /// quote URLs and headers as typed) have their secrets masked; what a client or the server saw is
    /// shown as it was (the server's log masks its own lines).
    func report(_ event: WorkbenchEvent, _ lines: [String]) {
        if case .expectation(let passed, _, let detail) = event { lastExpectation = (passed, detail) }
        switch event {
        case .info(let text): output(.info(Secrets.masked(text)), lines.map(Secrets.masked))
        case .failure(var error):
            error.message = Secrets.masked(error.message)
            output(.failure(error), lines.map(Secrets.masked))
        default: output(event, lines)
        }
    }

    private func serverCall<T>(_ command: ParsedCommand, _ body: () async throws -> T) async throws(CommandError) -> T {
        try await serverCall(command.spec.name, body)
    }

    private func serverCall<T>(_ name: String, _ body: () async throws -> T) async throws(CommandError) -> T {
        do { return try await body() } catch { throw CommandError("\(name): \(error)", column: 1) }
    }

    /// `line` without a trailing `# comment` (outside quotes) and surrounding blanks.
    static func withoutComment(_ line: String) -> String {
        var quote: Character?
        var escaped = false
        var end = line.endIndex
        for index in line.indices {
            let character = line[index]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "#" {
                end = index
                break
            }
        }
        return String(line[..<end]).trimmingCharacters(in: " ")
    }

    /// `host:port`, `:port`, `port` or nothing (127.0.0.1, any free port).
    static func address(_ word: Word?) throws(CommandError) -> (String, Int) {
        guard let text = word?.text, !text.isEmpty else { return ("127.0.0.1", 0) }
        let column = word?.column ?? 1
        let host: Substring
        let portText: Substring
        if let colon = text.lastIndex(of: ":") {
            host = text[..<colon].isEmpty ? "127.0.0.1" : text[..<colon]
            portText = text[text.index(after: colon)...]
        } else if text.allSatisfy(\.isNumber) {
            host = "127.0.0.1"
            portText = Substring(text)
        } else {
            host = Substring(text)
            portText = "0"
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw CommandError("serve: '\(text)' is not an address (HOST:PORT, :PORT or PORT; port 0 picks a free one)", column: column)
        }
        let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? host.dropFirst().dropLast() : host
        return (String(bareHost), port)
    }

    /// A data value: the text itself, or the contents of the file after `@`.
    func dataValue(_ text: String, command: ParsedCommand) throws(CommandError) -> String {
        guard text.hasPrefix("@") else { return text }
        do throws(ToolError) {
            return String(decoding: try InputFile.contents(of: String(text.dropFirst()), limit: fileSizeLimit), as: UTF8.self)
        } catch {
            throw CommandError("\(command.spec.name): \(error.message)", column: 1)
        }
    }

    static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell.padding(to: widths[index]) }.joined(separator: "  ")
        }
    }
}

extension String {
    func trimmingCharacters(in character: Character) -> String {
        var text = Substring(self)
        while text.first == character { text.removeFirst() }
        while text.last == character { text.removeLast() }
        return String(text)
    }

    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

/// The text `help COMMAND` shows; the man page's command list will come from the same place.
public enum HelpText {
    public static func lines(for spec: CommandSpec) -> [String] {
        var lines = ["usage: \(spec.usage)", "", spec.summary]
        if !spec.discussion.isEmpty { lines += ["", spec.discussion] }
        if !spec.options.isEmpty {
            lines.append("")
            let width = spec.options.map { $0.name.count + $0.kind.placeholder.count + 1 }.max() ?? 0
            for option in spec.options {
                lines.append("  " + "\(option.name)=\(option.kind.placeholder)".padding(to: width) + "  " + option.summary)
            }
        }
        let choices = (spec.arguments.map(\.kind) + spec.options.map(\.kind)).flatMap(\.choices)
        if !choices.isEmpty {
            let width = choices.map(\.word.count).max() ?? 0
            lines += [""] + choices.map { "  " + $0.word.padding(to: width) + "  " + $0.meaning }
        }
        if !spec.examples.isEmpty {
            lines += ["", "examples:"] + spec.examples.map { "  " + $0 }
        }
        return lines
    }
}
