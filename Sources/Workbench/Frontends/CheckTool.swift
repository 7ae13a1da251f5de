import EventStream
import SSECheck
import SSEClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `drip check server` and `drip check client`: runs the checks and reports them as text (each
/// verdict with its evidence and, for WARN and FAIL, what to change), TAP 13 or JSON lines, and
/// optionally JUnit XML too. Exit status 0 when nothing FAILed, 1 otherwise.
public struct CheckTool: Sendable {
    /// How the report is printed on standard output.
    public enum Format: Sendable { case text, tap, json }

    public var format: Format
    public var junitPath: String?

    public init(format: Format = .text, junitPath: String? = nil) {
        self.format = format
        self.junitPath = junitPath
    }

    public func runServer(_ options: ServerCheck.Options) async -> Int32 {
        let format = self.format
        if format == .text {
            Console.standardError.line(
                "drip check server: \(Secrets.masked(options.url.description))"
                    + (options.publishURL.map { " (publishing to \(Secrets.masked($0.description)))" }
                        ?? " (no --publish: judging what the server sends by itself)"))
        }
        let results = await ServerCheck(options).run { note in
            if format == .text { Console.standardError.line("drip check server: \(note)…") }
        }
        results.forEach(printAsItComes)
        return finish(results, title: "drip check server \(Secrets.masked(options.url.description))")
    }

    public func runClient(host: String, port: Int, end: ClientCheckMachine.End, timeout: Duration) async -> Int32 {
        let server = ClientCheckServer(end: end)
        let bound: Int
        do { bound = try await server.start(host: host, port: port) } catch {
            Console.standardError.line("drip check client: cannot listen on \(host):\(port): \(EventSourceClient.describeError(error))")
            return 2
        }
        let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/events"
        Console.standardError.line(
            "drip check client: point the client at \(url) (any path on this port works; CORS allowed); waiting up to \(timeout.clampedMilliseconds / 1000) s"
        )
        let started = ContinuousClock.now
        var printed = 0
        while true {
            let finished = server.tick()
            let results = server.results
            results[printed...].forEach(printAsItComes)
            printed = results.count
            if finished { break }
            if ContinuousClock.now - started > timeout {
                server.giveUp(printed == 0 ? "no client came within --timeout \(timeout.clampedMilliseconds / 1000) s" : "--timeout passed")
                continue
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        await server.stop()
        return finish(server.results, title: "drip check client \(url)")
    }

    /// Text and JSON lines are printed as each check is graded; TAP waits for the plan.
    private func printAsItComes(_ result: CheckResult) {
        switch format {
        case .text: CheckReport.lines(for: result).forEach(Console.standardOutput.line)
        case .json: Console.standardOutput.line(CheckReport.jsonLine(for: result))
        case .tap: break
        }
    }

    private func finish(_ results: [CheckResult], title: String) -> Int32 {
        let report = CheckReport.testReport(results, title: title)
        switch format {
        case .tap: report.tapLines.forEach(Console.standardOutput.line)
        case .text: Console.standardOutput.line(CheckReport.summary(results, title: title))
        case .json: break
        }
        if let junitPath, let problem = WholeFile.write(report.junitXML, to: junitPath) {
            Console.standardError.line("drip check: cannot write \(junitPath): \(problem)")
            return 1
        }
        return results.contains { $0.verdict == .fail } ? 1 : 0
    }
}

/// How check results read: as text lines, a JSON line, a summary, or test cases (TAP, JUnit). The
/// one formatting for `drip check` and the REPL's `check`.
enum CheckReport {
    static func lines(for result: CheckResult) -> [String] {
        let name = result.name + String(repeating: " ", count: max(0, 13 - result.name.count))
        var lines = ["\(result.verdict.rawValue)  \(name) \(result.evidence)"]
        if let advice = result.advice { lines.append("      \(String(repeating: " ", count: 13)) → \(advice)") }
        return lines.map(\.visibleOnTerminal)
    }

    static func jsonLine(for result: CheckResult) -> String {
        var fields: [(key: String, value: JSONValue)] = [
            ("check", .string(result.name)), ("verdict", .string(result.verdict.rawValue)), ("evidence", .string(result.evidence)),
        ]
        if let advice = result.advice { fields.append(("advice", .string(advice))) }
        return JSONValue.object(fields).serialized
    }

    static func summary(_ results: [CheckResult], title: String) -> String {
        let counts = CheckResult.Verdict.allCases.map { verdict in "\(results.filter { $0.verdict == verdict }.count) \(verdict.rawValue)" }
        return "\(title): \(results.count) checks: \(counts.joined(separator: ", "))"
    }

    static func testReport(_ results: [CheckResult], title: String) -> TestReport {
        TestReport(
            title: title,
            cases: results.map { result in
                let outcome: TestReport.Case.Outcome =
                    switch result.verdict {
                    case .pass: .passed
                    case .warn: .warned
                    case .fail: .failed
                    case .skip: .skipped
                    }
                let message = result.evidence + (result.advice.map { " — \($0)" } ?? "")
                return TestReport.Case(suite: title, name: result.name, outcome: outcome, message: message, seconds: result.seconds)
            })
    }
}
