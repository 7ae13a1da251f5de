import EventStream
import SSEClient
import SSEServer

/// `on-connect` blocks: each new connection of a block's stream is held by the server until the
/// block answers it — `reject` before anything is sent, or anything else (emit, comment, a fault),
/// which subscribes it first — and the block's lines then play to that connection alone.
extension Engine {
    /// The state of one connection's play.
    struct ScenarioRun: Sendable {
        let ticket: Int
        let stream: String
        let request: ScenarioRequest
        /// The client id once the connection was accepted.
        var client: Int?
        /// Set when nothing more can reach the connection (rejected, dropped, gone) or a line failed.
        var finished = false
        /// `id=auto` in a block counts per connection, so every connection gets the same ids.
        var nextAutoID = 1
        /// What went wrong, when a line failed.
        var failure: String?

        var who: String { "on-connect \(stream) (connection \(request.number)" + (client.map { ", client \($0)" } ?? "") + ")" }
    }

    /// Takes a line while a block is open: returns true when it was the block's (or opened one).
    func feedBlock(_ line: String, origin: String?) async -> Bool {
        guard var builder = blockBuilder else {
            guard let words = try? CommandLexer.words(in: line), words.first?.text == "on-connect" else { return false }
            do throws(CommandError) {
                guard let command = try CommandParser.parse(line) else { return false }
                let name = command.argument("stream") ?? ""
                do throws(ServerError) { try StreamName.validate(name) } catch {
                    throw CommandError("on-connect: \(error)", column: command.arguments["stream"]?.column ?? 1)
                }
                blockBuilder = ScenarioBuilder(stream: name, line: line, origin: origin)
            } catch {
                report(.failure(error), ["error: \(error.message)"])
            }
            return true
        }
        let started = ContinuousClock.now
        do throws(CommandError) {
            guard let scenario = try builder.feed(line, origin: origin) else {
                blockBuilder = builder
                return true
            }
            blockBuilder = nil
            try await install(scenario, lines: builder.lines)
            if let opening = try? CommandParser.parse(builder.lines[0]) {
                setup.noteBlock(builder.lines)
                if recorder != nil { record(opening, line: builder.lines.joined(separator: "\n"), startedAt: started, pendingBefore: 0) }
            }
        } catch {
            report(.failure(error), ["error: \(error.message)"])
        }
        return true
    }

    /// The block being read: its stream, how deep in it the reader is (for the REPL's prompt), and where
    /// its `on-connect` line was (the origin given to `execute`, for "has no end").
    public var openBlock: (stream: String, depth: Int, origin: String?)? { blockBuilder.map { ($0.stream, $0.depth, $0.origin) } }

    private func install(_ scenario: Scenario, lines: [String]) async throws(CommandError) {
        scenarios[scenario.stream] = scenario
        if let server { try await handConnections(of: scenario.stream, on: server) }
        let count = lines.count - 2
        let summary = "on-connect \(scenario.stream): \(count == 1 ? "1 line plays" : "\(count) lines play") to each new connection"
        report(.info(summary), quiet ? [] : [summary + (server == nil ? " (once a server runs)" : "")])
    }

    /// Has the server hold each new connection of `stream` for its block.
    func handConnections(of stream: String, on server: SSEServer) async throws(CommandError) {
        try await serverCall("on-connect") {
            try await server.setScenario(stream: stream) { [weak self] pending in
                guard let self else { return }
                Task { await self.startPlaying(pending) }
            }
        }
    }

    private func startPlaying(_ pending: PendingConnection) {
        scenarioRuns[pending.ticket] = Task { await self.play(pending) }
    }

    /// Plays the stream's block to one connection, then accepts it if the block neither answered it
    /// nor let it go.
    private func play(_ pending: PendingConnection) async {
        defer { scenarioRuns[pending.ticket] = nil }
        guard let scenario = scenarios[pending.stream], let server else { return }
        var run = ScenarioRun(
            ticket: pending.ticket, stream: pending.stream, request: ScenarioRequest(incoming: pending.request, number: pending.number))
        await perform(scenario.steps, &run, on: server)
        if let failure = run.failure, run.client == nil {
            // A held connection is not left hanging: the client learns the mock failed, and where.
            let ticket = run.ticket
            let body = "500 Internal Server Error: the mock's on-connect block failed: \(Secrets.masked(failure))\n"
            try? await server.reject(ticket, Rejection(status: 500, body: body))
        } else if !run.finished, run.client == nil, !Task.isCancelled {
            _ = await accept(&run, on: server)
        }
        report(.scenarioEnded(stream: pending.stream, number: pending.number), quiet ? [] : ["\(run.who): the block ended"])
    }

    private func perform(_ steps: [ScenarioStep], _ run: inout ScenarioRun, on server: SSEServer) async {
        for step in steps {
            guard !run.finished, !Task.isCancelled else { return }
            switch step {
            case .conditional(let condition, let then, let otherwise):
                await perform(condition.holds(for: run.request) ? then : otherwise, &run, on: server)
            case .command(let line, let origin):
                do throws(CommandError) {
                    try await perform(line, &run, on: server)
                } catch {
                    run.finished = true
                    // The connection went away (the client left, or the block dropped it): the rest cannot reach it.
                    if let client = run.client, !(await server.isSubscribed(client: client)) {
                        return report(.info("\(run.who) left"), quiet ? [] : ["\(run.who): the connection closed; the rest of the block is skipped"])
                    }
                    let message = (origin.map { "\($0): " } ?? "") + "\(run.who): \(error.message)"
                    run.failure = message
                    report(.failure(CommandError(message, column: error.column)), ["error: \(message)"])
                }
            }
        }
    }

    /// Runs one line of a block for the connection, its references filled in.
    private func perform(_ line: String, _ run: inout ScenarioRun, on server: SSEServer) async throws(CommandError) {
        let words = try RequestExpansion.expand(try CommandLexer.words(in: line), for: run.request)
        guard var command = try CommandParser.parse(words: words, line: line) else { return }
        let aimed = command.argument("stream") == run.stream
        switch command.name {
        case .sleep:
            return await sleep(command)
        case .reject where aimed:
            guard run.client == nil else {
                throw CommandError(
                    "reject: the connection was answered already (as client \(run.client ?? 0)); reject it before sending it anything", column: 1)
            }
            let rejection = try rejection(from: command)
            let ticket = run.ticket
            try await serverCall(command) { try await server.reject(ticket, rejection) }
            run.finished = true
            return report(.info("\(run.who) rejected"), quiet ? [] : ["\(run.who): answered \(rejection.status)"])
        default:
            break
        }
        if aimed {
            guard await accept(&run, on: server), let client = run.client else { return }
            command.connection = client
            if command.name == .emit, let index = command.options.lastIndex(where: { $0.name == "id" }), command.options[index].value.text == "auto" {
                command.options[index].value.text = String(run.nextAutoID)
                run.nextAutoID += 1
            }
        }
        _ = try await self.run(command)
        if aimed, command.name == .drop { run.finished = true }
    }

    /// Subscribes the held connection unless it was already; false (the run finished) when it is gone.
    private func accept(_ run: inout ScenarioRun, on server: SSEServer) async -> Bool {
        if run.client != nil { return true }
        do {
            run.client = try await server.accept(run.ticket)
            let request = run.request.incoming
            report(.info("\(run.who) playing"), quiet ? [] : ["\(run.who): playing to \(request.method) \(request.path) from \(request.remote)"])
            return true
        } catch {
            run.finished = true
            report(.info("\(run.who) left"), quiet ? [] : ["\(run.who): the connection closed before it was answered"])
            return false
        }
    }

    /// Ends every block being played (at shutdown).
    func stopScenarios() async {
        let runs = scenarioRuns.values
        scenarioRuns.removeAll()
        for run in runs { run.cancel() }
        for run in runs { await run.value }
    }
}
