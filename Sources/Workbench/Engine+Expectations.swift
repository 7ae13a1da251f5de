import EventStream
import SSEClient
import SSEServer

/// `expect`, `expect-not` and `wait`: what a client saw, checked within a deadline.
extension Engine {
    func expect(_ command: ParsedCommand) async throws(CommandError) {
        let name = command.argument("client") ?? ""
        guard seenLog(name) != nil else { throw proxies.isEmpty ? unknownClient(name, command) : unknownWatched(name, command) }
        let summary = Self.withoutComment(command.line)
        let expectation = try Expectation.parse(command.restWords, text: summary, command: command.spec.name)
        let verb = command.name
        let started = ContinuousClock.now
        let scaled = timeScale.wall(expectation.deadline)
        let deadline = verb == .expectNot ? scaled : max(scaled, min(expectation.deadline, Self.minimumRealWait))
        // Regular expressions are matched once per item (by its lasting position), within the deadline.
        var verdicts: [Int: Bool] = [:]
        while true {
            guard let seen = seenLog(name) else { break }
            var found: [Int] = []
            for index in seen.matches(expectation) {
                let position = seen.dropped + index
                if expectation.patterns.isEmpty || verdicts[position] == true {
                    found.append(index)
                    continue
                }
                guard verdicts[position] == nil, case .event(let event) = seen.items[index] else { continue }
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
            if verb == .expectNot, let first = found.first {
                let shown = style.lines(for: seen.items[first]).joined(separator: " ")
                return report(.expectation(passed: false, summary: summary, detail: "saw \(shown)"), ["✗ \(summary): saw \(shown)"])
            }
            if verb != .expectNot, found.count >= expectation.count {
                consumeSeen(name, throughLasting: seen.dropped + found[expectation.count - 1])
                return report(.expectation(passed: true, summary: summary, detail: ""), quiet ? [] : ["✓ \(summary)"])
            }
            if ContinuousClock.now - started >= deadline || Task.isCancelled { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        if verb == .expectNot { return report(.expectation(passed: true, summary: summary, detail: ""), quiet ? [] : ["✓ \(summary)"]) }
        let recent = seenLog(name).map { seen in seen.pending.suffix(5).flatMap { style.lines(for: $0) } } ?? []
        let detail = recent.isEmpty ? "it saw nothing new" : "it saw: " + recent.joined(separator: " | ")
        if verb == .wait { return report(.info("wait timed out"), ["\(summary): not seen within the deadline; \(detail)"]) }
        report(.expectation(passed: false, summary: summary, detail: detail), ["✗ \(summary): not seen; \(detail)"])
    }

    /// What the client or proxy `name` saw, for expectations.
    func seenLog(_ name: String) -> SeenLog? { clients[name]?.seen ?? proxies[name]?.seen }

    func consumeSeen(_ name: String, throughLasting position: Int) {
        if clients[name] != nil {
            clients[name]?.seen.consume(throughLasting: position)
        } else {
            proxies[name]?.seen.consume(throughLasting: position)
        }
    }

    func unknownWatched(_ name: String, _ command: ParsedCommand) -> CommandError {
        let names = Array(clients.keys) + Array(proxies.keys)
        let hint = CommandTable.suggestions(for: name, among: names).first.map { "; did you mean \($0)?" } ?? ""
        return CommandError("\(command.spec.name): no client or proxy named \(name)\(hint)", column: command.arguments["client"]?.column ?? 1)
    }
}
