import EventStream
import SSECheck
import SSEClient

/// `check server URL …` and `check client …`: `drip check` inside a session or a script. Each check
/// is reported as `drip check` prints it and counts as an expectation (a FAIL fails it; PASS, WARN
/// and SKIP hold), so `drip run` makes every check a test. Checks run in real time (`--speed` does
/// not shorten them: what they time is the other side's).
extension Engine {
    func check(_ command: ParsedCommand) async throws(CommandError) {
        let side = command.argument("side") ?? "server"
        let results = side == "client" ? try await checkClient(command) : try await checkServer(command)
        for result in results {
            report(
                .expectation(passed: result.verdict != .fail, summary: "check \(side): \(result.name)", detail: result.evidence),
                CheckReport.lines(for: result))
        }
        let title = "check \(side)"
        report(.info(title), [CheckReport.summary(results, title: title)])
    }

    private func checkServer(_ command: ParsedCommand) async throws(CommandError) -> [CheckResult] {
        guard let given = command.argument("url") else { throw CommandError("check server needs the URL of an event stream", column: 1) }
        for name in ["listen", "end", "timeout"] where !command.values(of: name).isEmpty {
            throw CommandError(
                "check server: \(name)= is an option of check client", column: command.options.last { $0.name == name }?.value.column ?? 1)
        }
        let column = command.arguments["url"]?.column ?? 1
        var options = ServerCheck.Options(url: try checkURL(given, what: "the URL", column: column))
        if let publish = command.option("publish") {
            let publishColumn = command.options.last { $0.name == "publish" }?.value.column ?? 1
            let url = try checkURL(publish, what: "publish=", column: publishColumn)
            options.publishURL = url
        }
        options.headers = try Self.headers(command)
        options.tls = trustingOwnServer(options.tls)
        if let origin = command.option("origin") {
            guard !origin.isEmpty, HTTPSyntax.isFieldValue(origin) else {
                throw CommandError("check: origin=\(origin.debugDescription) is not a header value", column: 1)
            }
            options.origin = origin
        }
        if let budget = command.duration("idle-budget") {
            guard budget.milliseconds >= 1000 else { throw CommandError("check: idle-budget=\(budget) is less than 1s", column: 1) }
            options.idleBudget = budget.duration
        }
        let reportNote: @Sendable (String) -> Void = { [output] note in output(.info(note), ["check server: \(note)…"]) }
        return await ServerCheck(options).run(progress: reportNote)
    }

    private func checkClient(_ command: ParsedCommand) async throws(CommandError) -> [CheckResult] {
        if let url = command.argument("url") {
            throw CommandError(
                "check client takes no URL (\(url)): it listens (listen=HOST:PORT) and prints its own", column: command.arguments["url"]?.column ?? 1)
        }
        for name in ["publish", "header", "origin", "idle-budget"] where !command.values(of: name).isEmpty {
            throw CommandError(
                "check client: \(name)= is an option of check server", column: command.options.last { $0.name == name }?.value.column ?? 1)
        }
        let (host, port) = try listenAddress(command)
        let end = command.option("end").flatMap(ClientCheckMachine.End.init(rawValue:)) ?? .noContent
        let timeout = command.duration("timeout")?.duration ?? .seconds(120)
        let server = ClientCheckServer(end: end)
        let bound: Int
        do { bound = try await server.start(host: host, port: port) } catch {
            throw CommandError("check: cannot listen on \(host):\(port): \(EventSourceClient.describeError(error))", column: 1)
        }
        let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/events"
        report(.info("check client \(url)"), ["check client: point the client at \(url) (any path on this port; CORS allowed)"])
        let started = ContinuousClock.now
        while !server.tick() {
            if ContinuousClock.now - started > timeout {
                server.giveUp(
                    server.results.isEmpty
                        ? "no client came within timeout=\(DurationValue(clampingMilliseconds: timeout.clampedMilliseconds))" : "timeout= passed")
                continue
            }
            do { try await sleeper(.milliseconds(50)) } catch {
                server.giveUp("interrupted")
            }
        }
        await server.stop()
        return server.results
    }

    private func checkURL(_ text: String, what: String, column: Int) throws(CommandError) -> HTTPURL {
        var full = text
        if text.hasPrefix("/") {
            guard let serverURL else { throw CommandError("check: \(text) is a path on the embedded server, but none is running", column: column) }
            full = serverURL + text
        }
        do { return try HTTPURL(parsing: full) } catch { throw CommandError("check: \(what) \(error)", column: column) }
    }
}

/// The longer help of `check` (`help check`, drip-script(5)).
enum CheckHelp {
    static let check = """
        check server URL grades the event stream at URL as drip check server does (drip-check(1)): status,
        content-type, cache, compression, length, first-byte, heartbeat (it watches the stream for idle-budget and a
        second), ids, resume, buffering, retry, cors (with origin=), http1.0, abrupt-leave and utf-8. publish=URL is
        where a POST publishes one event (its body the data) so that drip can time and count events of its own; a
        /path is the embedded server's (check server /streams/news publish=/streams/news?id=auto).
        check client listens (listen=HOST:PORT), prints its URL, and grades the client pointed at it from its requests:
        accept, reconnect, retry, last-event-id, id-persists, id-reset, reset, partial, redirect, and end (the last
        answer: end=204, 500 or wrong-type).
        Each check is printed with its verdict and evidence and counts as an expectation: a FAIL fails it, so in drip
        run every check is a test. Checks run in real time, whatever --speed says.
        """
}
