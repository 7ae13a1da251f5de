import Synchronization

/// The read–run–print loop shared by the terminal REPL and `drip < session.drip`: each line goes
/// through the engine; everything the engine reports is printed as it happens.
public enum ReplSession {
    /// Runs until `quit` or the end of input, then closes every server and client. Returns the exit
    /// status: 0, or 1 when reading a non-interactive input any command failed.
    public static func run(interactive: Bool, next: (String) async -> String?) async -> Int32 {
        let failures = Mutex(0)
        let lastLine = Mutex("")
        let lastPrompt = Mutex("")
        let engine = Engine { event, lines in
            if case .failure(let error) = event {
                failures.withLock { $0 += 1 }
                if interactive {
                    let offset = lastPrompt.withLock { $0.count } + max(0, error.column - 1)
                    Console.standardError.line(String(repeating: " ", count: offset) + "^")
                }
                let location = interactive ? "" : " (line \(lastLine.withLock { $0 }), column \(error.column))"
                Console.standardError.line("error: \(error.message)\(location)")
                return
            }
            for line in lines { Console.standardOutput.line(line) }
        }
        if interactive {
            Console.standardOutput.line("drip — a Server-Sent Events workbench. 'help' lists the commands, Ctrl-D leaves.")
        }
        var lineNumber = 0
        while true {
            let prompt = prompt(await engine.liveCounts)
            lastPrompt.withLock { $0 = prompt }
            guard let line = await next(prompt) else {
                if interactive { Console.standardOutput.line("") }
                break
            }
            lineNumber += 1
            lastLine.withLock { $0 = String(lineNumber) }
            guard await engine.execute(line) else { break }
        }
        await engine.shutdown()
        return !interactive && failures.withLock({ $0 }) > 0 ? 1 : 0
    }

    /// `drip> `, `drip [server]> `, `drip [server, 2 clients]> `: what is live, at a glance.
    static func prompt(_ counts: (servers: Int, clients: Int)) -> String {
        var live: [String] = []
        if counts.servers > 0 { live.append("server") }
        if counts.clients > 0 { live.append("\(counts.clients) client\(counts.clients == 1 ? "" : "s")") }
        return live.isEmpty ? "drip> " : "drip [\(live.joined(separator: ", "))]> "
    }
}
