import Synchronization

/// Lets a signal handler stop the command that is running (Ctrl-C ends a `sleep`), or end the
/// session (SIGTERM, or Ctrl-C when reading a script).
public final class ReplInterrupts: Sendable {
    private let state = Mutex<(command: Task<Bool, Never>?, quit: Bool)>((nil, false))

    public init() {}

    /// Cancels the running command; false when none is running.
    public func interruptCommand() -> Bool {
        let command = state.withLock { $0.command }
        command?.cancel()
        return command != nil
    }

    /// Ends the session after the running command (which is cancelled).
    public func quit() {
        let command = state.withLock { state -> Task<Bool, Never>? in
            state.quit = true
            return state.command
        }
        command?.cancel()
    }

    public var quitRequested: Bool { state.withLock { $0.quit } }

    func running(_ task: Task<Bool, Never>?) { state.withLock { $0.command = task } }
}

/// The read–run–print loop shared by the terminal REPL and `drip < session.drip`: each line goes
/// through the engine; everything the engine reports is printed as it happens.
public enum ReplSession {
    /// Runs until `quit`, the end of input or `interrupts.quit()`, then closes every server and
    /// client. `print` writes lines (to standard error when `isError`). Returns the exit status: 0,
    /// or 1 when reading a non-interactive input any command failed.
    public static func run(
        interactive: Bool,
        interrupts: ReplInterrupts = ReplInterrupts(),
        completionNames: CompletionNames? = nil,
        colors: Bool = false,
        recordsSecrets: Bool = false,
        fileSizeLimit: Int = InputFile.defaultSizeLimit,
        print: @escaping @Sendable (_ lines: [String], _ isError: Bool) -> Void,
        next: (String) async -> String?
    ) async -> Int32 {
        let failures = Mutex(0)
        let lastLine = Mutex(0)
        let lastPrompt = Mutex("")
        let engine = Engine(recordsSecrets: recordsSecrets, fileSizeLimit: fileSizeLimit) { event, lines in
            let lines = lines.map(\.visibleOnTerminal)
            if case .expectation(false, _, _) = event {
                failures.withLock { $0 += 1 }
                let located = interactive ? lines : lines.map { "\($0) (line \(lastLine.withLock { $0 }))" }
                return print(colors ? located.map(Style.red) : located, !interactive)
            }
            guard case .failure(let error) = event else {
                return print(colors ? lines.map { Style.highlight($0, for: event) } : lines, false)
            }
            failures.withLock { $0 += 1 }
            if interactive {
                let offset = lastPrompt.withLock { $0.count } + max(0, error.column - 1)
                let lines = [String(repeating: " ", count: offset) + "^", "error: \(error.message.visibleOnTerminal)"]
                print(colors ? lines.map(Style.red) : lines, true)
            } else {
                print(["error: \(error.message.visibleOnTerminal) (line \(lastLine.withLock { $0 }), column \(error.column))"], true)
            }
        }
        if interactive {
            print(["drip — a Server-Sent Events workbench. 'help' lists the commands, Ctrl-C discards a line, Ctrl-D leaves."], false)
        }
        while !interrupts.quitRequested {
            if let completionNames {
                completionNames.update(await engine.completionNames())
            }
            let counts = await engine.liveCounts
            let prompt = await engine.openBlock.map { Self.blockPrompt(stream: $0.stream, depth: $0.depth) } ?? prompt(counts)
            lastPrompt.withLock { $0 = prompt }
            guard let line = await next(prompt) else {
                if interactive { print([""], false) }
                break
            }
            lastLine.withLock { $0 += 1 }
            let command = Task { await engine.execute(line) }
            interrupts.running(command)
            let keepGoing = await command.value
            interrupts.running(nil)
            guard keepGoing else { break }
        }
        await engine.shutdown()
        return !interactive && failures.withLock({ $0 }) > 0 ? 1 : 0
    }

    /// `on-connect chat … ` while a block is being typed, indented by how deep in it the line is.
    static func blockPrompt(stream: String, depth: Int) -> String {
        "on-connect \(stream) …" + String(repeating: "  ", count: depth) + "> "
    }

    /// `drip> `, `drip [server]> `, `drip [server, 2 clients]> `: what is live, at a glance.
    static func prompt(_ counts: (servers: Int, clients: Int)) -> String {
        var live: [String] = []
        if counts.servers > 0 { live.append("server") }
        if counts.clients > 0 { live.append("\(counts.clients) client\(counts.clients == 1 ? "" : "s")") }
        return live.isEmpty ? "drip> " : "drip [\(live.joined(separator: ", "))]> "
    }
}

/// ANSI colour for a terminal that allows it (`Terminal.allowsColor`: a TTY, not TERM=dumb, no NO_COLOR).
enum Style {
    static func red(_ text: String) -> String { "\u{1B}[31m" + text + "\u{1B}[0m" }
    static func dim(_ text: String) -> String { "\u{1B}[2m" + text + "\u{1B}[0m" }
    static func cyan(_ text: String) -> String { "\u{1B}[36m" + text + "\u{1B}[0m" }

    /// Client lines get their name in cyan, server log lines are dimmed, failures of clients in red.
    static func highlight(_ line: String, for event: WorkbenchEvent) -> String {
        switch event {
        case .server: return dim(line)
        case .client(let name, .closed(_, true)): return red(line.hasPrefix(name + ":") ? line : line)
        case .client(let name, _):
            guard line.hasPrefix(name + ":") else { return line }
            return cyan(name + ":") + String(line.dropFirst(name.count + 1))
        default: return line
        }
    }
}
