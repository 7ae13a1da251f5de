import EventStream
import SSEClient
import SSEProxy
import SSEServer
import ScriptClock

/// Something the workbench did or saw, reported to whoever drives it: the REPL prints it, the
/// recorder writes it down, and `drip run` counts the expectations among it.
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
    /// An `on-connect` block finished playing to the `number`th connection of `stream`.
    case scenarioEnded(stream: String, number: Int)
    /// Traffic passed through a named proxy.
    case proxy(name: String, event: ProxyEvent)
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
        var state = ClientState.connecting
        var received = 0
        var lastEventId = ""
    }

    let output: Output
    /// Whether printed lines carry the time (`log timestamps=`); read by the output on any thread.
    let stamps: LineStamps
    let sleeper: @Sendable (Duration) async throws -> Void
    var server: SSEServer?
    var serverURL: String?
    var clients: [String: ClientHandle] = [:]
    var proxies: [String: ProxyHandle] = [:]
    /// What the viewer page shows of the proxies.
    let proxyBoard = ProxyBoard()
    /// Which server connection is which named client's, for the server's log lines.
    let directory = ClientDirectory()
    var style = ClientOutputStyle(comments: true)
    var quiet = false
    var recorder: Recorder?
    /// What set the session up so far, for a recording that starts midway.
    var setup = SessionSetup()
    /// The outcome of the last expectation, for the recording.
    var lastExpectation: (passed: Bool, detail: String)?
    /// The workbench's clock: sleeps, expectation deadlines, and the server's and clients' timers all
    /// run at its speed (`drip run --speed`, `replay … speed=`).
    let timeScale: TimeScale
    /// However fast the clock runs, a positive expectation waits at least this long in real time, so a
    /// busy machine cannot fail a compressed script that would pass at speed 1.
    static let minimumRealWait = Duration.milliseconds(250)
    /// Whether `record` keeps secrets as typed when its `secrets=` is not given (`drip --record-secrets`).
    let recordsSecrets: Bool
    /// The most bytes an `@FILE` value or a replayed script may hold (`drip --max-file-size`).
    let fileSizeLimit: Int
    /// The `on-connect` block being read, line by line.
    var blockBuilder: ScenarioBuilder?
    /// Each stream's `on-connect` block.
    var scenarios: [String: Scenario] = [:]
    /// The blocks playing now, one per held or accepted connection, by the server's ticket.
    var scenarioRuns: [Int: Task<Void, Never>] = [:]
    /// Everything this workbench ran and saw, timed: what `timeline` and `drip run --report` draw.
    public let timeline: TimelineLog
    /// drip's version: `drip --version` prints it and recordings' headers carry it.
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
        let timeline = TimelineLog()
        self.timeline = timeline
        // Every line the workbench prints — a client's, the server's log, a command's result — gets
        // the time in front of it when `log timestamps=on`, in this one place.
        self.output = { event, lines in
            timeline.add(.event(event))
            output(event, stamps.isOn ? lines.map { stamps.now() + " " + $0 } : lines)
        }
    }

    /// Runs one line; false when it asked to quit. `origin` (`file:line`) names where the line was
    /// written, for the errors of an `on-connect` block that come when it plays.
    @discardableResult
    public func execute(_ line: String, origin: String? = nil) async -> Bool {
        if await feedBlock(line, origin: origin) { return true }
        do throws(CommandError) {
            guard let command = try CommandParser.parse(line) else { return true }
            timeline.add(.command(Secrets.masked(Self.withoutComment(line).trimmingCharacters(in: " ")), origin: origin))
            let started = ContinuousClock.now
            let pendingBefore = recorder?.pendingCount ?? 0
            let result = try await run(command)
            setup.note(command, line: line)
            if recorder != nil, !Self.unrecorded.contains(command.name) {
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
        blockBuilder = nil
        await stopScenarios()
        for (name, handle) in clients {
            handle.task.cancel()
            await handle.task.value
            clients[name] = nil
        }
        for name in proxies.keys.sorted() { await closeProxy(name) }
        if let server {
            timeline.follow(nil)
            await server.stop()
            self.server = nil
            serverURL = nil
        }
    }

    /// Client and stream names, for tab completion.
    public func completionNames() async -> CompletionNames.Names {
        let streams = (try? await server?.snapshot())?.streams.map(\.name) ?? []
        return CompletionNames.Names(clients: clients.keys.sorted(), streams: streams, proxies: proxies.keys.sorted())
    }

    /// How many servers and clients are live (for the prompt).
    public var liveCounts: (servers: Int, clients: Int) { (server == nil ? 0 : 1, clients.count) }

    // MARK: Commands

    func run(_ command: ParsedCommand) async throws(CommandError) -> Bool {
        // A fault aimed at a proxy is the proxy's; otherwise it is a stream's.
        if CommandTable.proxyFaults.contains(command.name), try await proxyFault(command) { return true }
        switch command.name {
        case .serve: try await serve(command)
        case .stop: try await stop()
        case .stream: try await configureStream(command)
        case .connect: try await connect(command)
        case .close: try await close(command)
        case .proxy: try await startProxy(command)
        case .cut: try cut(command)
        case .post: try await post(command)
        case .check: try await check(command)
        case .emit: try await emit(command)
        case .comment: try await comment(command)
        case .drop: try await drop(command)
        case .stall: try await stall(command)
        case .delay: try await delay(command)
        case .chunk: try await chunk(command)
        case .corrupt: try await corrupt(command)
        case .reject: try await reject(command)
        case .skip, .duplicate, .rewrite: _ = try await proxyFault(command)
        case .clients: listClients()
        case .streams: try await listStreams()
        case .status: try await status()
        case .history: try await history(command)
        case .log: configureLog(command)
        case .sleep: await sleep(command)
        case .expect, .expectNot, .wait: try await expect(command)
        case .record: try record(command)
        case .timeline: try writeTimeline(command)
        case .replay: try await replay(command)
        case .help: try help(command)
        case .onConnect, .if, .else, .end:
            throw CommandError("\(command.spec.name) belongs in an on-connect block (on-connect STREAM … end)", column: 1)
        case .quit: return false
        }
        return true
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

    func serverCall<T>(_ command: ParsedCommand, _ body: () async throws -> T) async throws(CommandError) -> T {
        try await serverCall(command.spec.name, body)
    }

    func serverCall<T>(_ name: String, _ body: () async throws -> T) async throws(CommandError) -> T {
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
