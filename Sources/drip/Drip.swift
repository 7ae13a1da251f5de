import ArgumentParser
import EventStream
import LineEditor
import SSEServer
import Workbench

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct Drip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drip",
        abstract: "A scriptable Server-Sent Events workbench: an SSE server and client behind a REPL.",
        discussion: """
            With no subcommand, drip opens the REPL (drip-repl(1)): an embedded SSE server and named clients driven \
            by commands typed at a prompt, with line editing, history and Tab completion; the language is drip-script(5).
            The subcommands use the same parts alone:
            serve runs the server (drip-serve(1)), connect the client (drip-connect(1)), proxy stands between a client and \
            a server (drip-proxy(1)), check grades a server or a client (drip-check(1)), run replays scripts and checks \
            their expectations for CI (drip-run(1)), load measures many subscribers at once (drip-load(1)), and decode \
            and encode translate between a captured text/event-stream and JSON lines (drip-decode(1), drip-encode(1)).
            """,
        version: Engine.version,
        subcommands: [Repl.self, Serve.self, Connect.self, Proxy.self, Check.self, Run.self, Load.self, Decode.self, Encode.self, ManualScript.self],
        defaultSubcommand: Repl.self
    )

    /// SIGPIPE is ignored for the whole process: a peer or a reader that goes away is an error to
    /// handle (a client dropped, `drip connect | head` ending quietly), never a reason to die.
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        // Every connection is a descriptor: take all the process may have (`ulimit -Hn`).
        DescriptorLimit.raiseToHard()
        let arguments = Array(CommandLine.arguments.dropFirst())
        // The client's event loop starts on another core while the arguments are parsed.
        if arguments.first == Connect.configuration.commandName { ConnectTool.startLoop() }
        if var command = parsedLeafSubcommand(arguments) {
            // As `main` runs what it parses, reports a failure the same way (for the root, drip), and
            // ends the process (here, rather than by returning, which ends it from a thread made for that).
            do {
                if var asyncCommand = command as? AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
            } catch {
                exit(withError: error)
            }
            exit()
        }
        if let word = arguments.first, let message = unknownSubcommand(word) {
            Console.standardError.line(message)
            Glibc.exit(2)
        }
        await main(arguments)
    }

    /// `drip SUB ARGS…` for a subcommand without subcommands of its own, parsed with SUB as the root.
    /// The parse from drip's root also reflects on SUB's options and on the REPL's (the default
    /// subcommand) to find where SUB's arguments begin: 0.6 ms of `drip connect`'s start, which this
    /// parse does without. Only a clean parse is taken: for help, a completion request or any error
    /// (a missing or invalid value, `--version`, which only the root knows) this is nil, and the parse
    /// from the root runs and prints what it always prints (usage that names `drip SUB`).
    static func parsedLeafSubcommand(_ arguments: [String]) -> ParsableCommand? {
        guard let name = arguments.first,
            let subcommand = configuration.subcommands.first(where: { $0.configuration.commandName == name }),
            subcommand.configuration.subcommands.isEmpty,
            let command = try? subcommand.parseAsRoot(Array(arguments.dropFirst())),
            type(of: command) == subcommand
        else { return nil }
        return command
    }

    /// The error for a first argument that looks like a subcommand and is none (`drip conect`),
    /// with the nearest one; nil for a subcommand, an option, or a word far from every subcommand
    /// (which the REPL's parser then refuses with its usage).
    static func unknownSubcommand(_ word: String) -> String? {
        guard !word.hasPrefix("-") else { return nil }
        let names = configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
        guard !names.contains(word), let nearest = CommandTable.suggestions(for: word, among: names).first else { return nil }
        return "drip: no subcommand '\(word)'; did you mean 'drip \(nearest)'? ('drip --help' lists them)"
    }
}

struct Repl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "Open the interactive workbench (the default when no subcommand is given).",
        discussion: """
            Reads commands from the terminal with line editing and history (~/.drip_history), or line by line \
            without a prompt when standard input is not a terminal (or TERM=dumb), so `drip < session.drip` works.
            Type 'help' for the commands.
            Ctrl-C discards the line being typed or stops a running sleep; \
            Ctrl-C twice on an empty line, Ctrl-D, or SIGTERM leaves, closing every server and client and \
            finishing a recording.
            """
    )

    @Option(help: "The history file (default ~/.drip_history; 'none' keeps no history).")
    var historyFile: String?

    @Option(help: ArgumentHelp("The largest file an @FILE value (or a script) may be.", valueName: "size"))
    var maxFileSize = ByteSize(bytes: InputFile.defaultSizeLimit)

    @Flag(
        help:
            "Let 'record' keep Authorization headers and tokens as typed (masked as *** otherwise; 'record FILE secrets=' still decides per recording)."
    )
    var recordSecrets = false

    func run() async throws {
        let environment = ProcessInfoEnvironment.current
        let interactive = Terminal.isInteractive(STDIN_FILENO, environment: environment)
        let historyPath: String? =
            historyFile == "none" ? nil : historyFile ?? environment["HOME"].map { $0 + "/.drip_history" }
        let names = CompletionNames()
        let reader = LineReader(mode: interactive ? .editor(historyPath: historyPath) : .plain) { prefix in
            Completion.candidates(for: prefix, names: names.current)
        } describer: { candidate, prefix in
            Completion.meaning(of: candidate, for: prefix)
        }
        let interrupts = ReplInterrupts()
        let signals = Signals.watch([SIGINT, SIGTERM]) { signal in
            if signal == SIGINT, interactive {
                // Ctrl-C: stop the running command (a sleep), or discard the line being typed.
                if interrupts.interruptCommand() { reader.print([""]) } else { reader.interrupt() }
            } else {
                interrupts.quit()
                reader.interrupt()
            }
        }
        defer { signals.forEach { $0.cancel() } }
        let status = await ReplSession.run(
            interactive: interactive, interrupts: interrupts, completionNames: names,
            colors: Terminal.allowsColor(STDOUT_FILENO, environment: environment),
            recordsSecrets: recordSecrets,
            fileSizeLimit: maxFileSize.bytes,
            print: { lines, isError in
                if interactive {
                    reader.print(lines)
                } else {
                    for line in lines { (isError ? Console.standardError : Console.standardOutput).line(line) }
                }
            },
            next: { prompt in
                guard !interrupts.quitRequested else { return nil }
                let line = await reader.next(prompt: prompt)
                return interrupts.quitRequested ? nil : line
            })
        if status != 0 { throw ExitCode(status) }
    }
}

/// The process environment as a dictionary.
enum ProcessInfoEnvironment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") { result[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
            pointer += 1
        }
        return result
    }
}

/// Options shared by the tools that read a captured stream.
struct LimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Longest line accepted (e.g. 1MiB, 64KB).", valueName: "size"))
    var maxLineLength = ByteSize(bytes: EventStreamParser.Limits().maxLineLength)

    @Option(help: ArgumentHelp("Largest event data accepted.", valueName: "size"))
    var maxEventSize = ByteSize(bytes: EventStreamParser.Limits().maxEventSize)
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Print what a browser's EventSource would dispatch from a captured text/event-stream.",
        discussion: """
            Reads FILE (or standard input) and prints one JSON object per line, in stream order:
              {"type":…,"data":…,"lastEventId":…}  for each dispatched event
              {"retry":N}                          for each valid retry field
              {"comment":…}                        for each comment, with --comments
            An unterminated final event is discarded, as at the end of a real stream.
            Exit status: 0 on success, 2 for bad input (missing file, line over the limit), 1 for I/O failures.
            """
    )

    @Argument(help: "The captured stream; standard input when omitted or '-'.")
    var file: String?

    @Flag(help: "Also print comment lines as {\"comment\":…}.")
    var comments = false

    @OptionGroup var limits: LimitOptions

    func run() throws {
        let tool = DecodeTool(
            limits: .init(maxLineLength: limits.maxLineLength.bytes, maxEventSize: limits.maxEventSize.bytes),
            reportsComments: comments
        )
        try runTool("decode") { (output) throws(ToolError) in
            let input = try InputFile(path: file)
            try tool.run(input: input, output: &output)
        }
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Write a text/event-stream from JSON lines in the shape `drip decode` prints.",
        discussion: """
            Each line of FILE (or standard input) is one of:
              {"type":…,"data":…,"lastEventId":…}  an event; type defaults to "message"; an id: field is
                                                   written only when lastEventId changes
              {"retry":N}                          a retry field
              {"comment":…}                        a comment line
            Blank lines are skipped. `drip decode | drip encode | drip decode` prints what the first decode did.
            Exit status: 0 on success, 2 for bad input (malformed JSON, an id with a line break), 1 for I/O failures.
            """
    )

    @Argument(help: "JSON lines; standard input when omitted or '-'.")
    var file: String?

    @Option(help: ArgumentHelp("Longest JSON line accepted (e.g. 1MiB).", valueName: "size"))
    var maxLineLength = ByteSize(bytes: EventStreamParser.Limits().maxLineLength)

    func run() throws {
        let tool = EncodeTool(maxLineLength: maxLineLength.bytes)
        try runTool("encode") { (output) throws(ToolError) in
            let input = try InputFile(path: file)
            try tool.run(input: input, output: &output)
        }
    }
}

/// Runs a one-shot tool, turning its failure into one line on standard error and its exit status.
func runTool(_ name: String, _ body: (inout OutputWriter) throws(ToolError) -> Void) throws {
    var output = OutputWriter()
    do {
        try body(&output)
    } catch {
        if error.readerLeft { return }
        try? output.flush()
        printError("drip \(name): \(error.message)")
        throw ExitCode(error.kind.rawValue)
    }
}

func printError(_ message: String) {
    var line = Array(message.utf8)
    line.append(UInt8(ascii: "\n"))
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

extension DurationValue: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public var defaultValueDescription: String { description }
}

extension ByteSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public var defaultValueDescription: String { description }
}
