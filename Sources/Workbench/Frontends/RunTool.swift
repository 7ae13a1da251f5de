import EventStream
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `drip run`: each script in a fresh workbench; every expectation is a test. Reports as text, TAP 13
/// or JUnit XML. Exit status 0 when all pass, 1 when an expectation failed, 2 for a script error
/// (bad syntax, an unknown command, a command that could not run), with file:line:column.
public struct RunTool: Sendable {
    public var files: [String]
    public var tap: Bool
    public var junitPath: String?
    /// An HTML report of every script (verdicts and timeline) goes here.
    public var reportPath: String?
    /// Every script's timeline as JSON lines goes here.
    public var timelinePath: String?
    public var bail: Bool
    public var variables: [String: String]
    public var verbose: Bool
    /// Divides every `sleep` of the scripts: 100 plays a 30-second tutorial in a third of a second.
    public var speed: Double
    /// The most bytes a script or an `@FILE` value may hold.
    public var fileSizeLimit: Int

    public init(
        files: [String], tap: Bool = false, junitPath: String? = nil, reportPath: String? = nil, timelinePath: String? = nil, bail: Bool = false,
        variables: [String: String] = [:], verbose: Bool = false,
        speed: Double = 1, fileSizeLimit: Int = InputFile.defaultSizeLimit
    ) {
        self.speed = speed
        self.fileSizeLimit = fileSizeLimit
        self.files = files
        self.tap = tap
        self.junitPath = junitPath
        self.reportPath = reportPath
        self.timelinePath = timelinePath
        self.bail = bail
        self.variables = variables
        self.verbose = verbose
    }

    /// One expectation's outcome, or a script error.
    public struct Result: Sendable {
        public var file: String
        public var line: Int
        public var name: String
        public var passed: Bool
        public var message: String
        public var isScriptError: Bool
        public var seconds: Double
    }

    public func run() async -> Int32 {
        var results: [Result] = []
        var timelines: [(file: String, results: [Result], timeline: Timeline)] = []
        for file in files {
            let (fileResults, timeline) = await run(file: file)
            results += fileResults
            timelines.append((file, fileResults, timeline))
            if bail, fileResults.contains(where: { !$0.passed }) { break }
        }
        report(results)
        var unwritten = false
        if let reportPath {
            let sections = timelines.map { file, results, timeline in
                ReportPage.Section(
                    title: file,
                    verdicts: results.map {
                        .init(
                            origin: "\($0.file):\($0.line)", summary: $0.isScriptError ? "script error" : $0.name, passed: $0.passed,
                            detail: $0.message)
                    },
                    timeline: timeline)
            }
            unwritten =
                !writeFile(ReportPage(title: "drip run: " + files.joined(separator: ", "), sections: sections).html, to: reportPath, "--report")
                || unwritten
        }
        if let timelinePath {
            let lines = timelines.flatMap { $0.timeline.jsonLines(script: $0.file) }
            unwritten = !writeFile(lines.map { $0 + "\n" }.joined(), to: timelinePath, "--timeline") || unwritten
        }
        if unwritten { return 2 }
        if results.contains(where: \.isScriptError) { return 2 }
        return results.contains { !$0.passed } ? 1 : 0
    }

    private func finished(_ engine: Engine, _ results: [Result]) async -> ([Result], Timeline) {
        await engine.shutdown()
        return (results, engine.timeline.timeline)
    }

    private func writeFile(_ text: String, to path: String, _ option: String) -> Bool {
        guard let failure = WholeFile.write(text, to: path) else { return true }
        Console.standardError.line("drip run: cannot write the \(option) file \(path): \(failure)")
        return false
    }

    /// One script's outcomes and what happened while it ran.
    func run(file: String) async -> ([Result], Timeline) {
        let bytes: [UInt8]
        do throws(ToolError) { bytes = try InputFile.contents(of: file, limit: fileSizeLimit) } catch {
            return (
                [Result(file: file, line: 0, name: "read \(file)", passed: false, message: error.message, isScriptError: true, seconds: 0)],
                Timeline()
            )
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        let collected = Mutex<[WorkbenchEvent]>([])
        let verbose = self.verbose
        let engine = Engine(speed: speed, fileSizeLimit: fileSizeLimit) { event, printed in
            collected.withLock { $0.append(event) }
            if verbose { for line in printed { Console.standardError.line(line) } }
        }
        var results: [Result] = []
        var blockStart: (number: Int, line: String)?
        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            let line: String
            switch substitute(rawLine) {
            case .success(let text): line = text
            case .failure(let error):
                results.append(scriptError(file, number, error.column, error.message, rawLine))
                return await finished(engine, results)
            }
            collected.withLock { $0.removeAll() }
            let started = ContinuousClock.now
            let keepGoing = await engine.execute(line, origin: "\(file):\(number)")
            if await engine.openBlock == nil {
                blockStart = nil
            } else if blockStart == nil {
                blockStart = (number, line)
            }
            let elapsed = ContinuousClock.now - started
            let seconds = elapsed.secondsValue
            for event in collected.withLock({ $0 }) {
                switch event {
                case .failure(let error):
                    results.append(scriptError(file, number, error.column, error.message, line))
                    return await finished(engine, results)
                case .expectation(let passed, let summary, let detail):
                    results.append(
                        Result(file: file, line: number, name: summary, passed: passed, message: detail, isScriptError: false, seconds: seconds))
                    if !passed, bail {
                        return await finished(engine, results)
                    }
                default:
                    break
                }
            }
            if !keepGoing { break }
        }
        if let block = await engine.openBlock, let start = blockStart {
            results.append(
                scriptError(file, start.number, 1, "the on-connect block for \(block.stream) has no end; close it with a line 'end'", start.line))
        }
        return await finished(engine, results)
    }

    private func scriptError(_ file: String, _ line: Int, _ column: Int, _ message: String, _ text: String) -> Result {
        Result(
            file: file, line: line, name: "\(file):\(line):\(column): \(text)", passed: false, message: "\(file):\(line):\(column): \(message)",
            isScriptError: true, seconds: 0)
    }

    /// `${NAME}` replaced by the value given with `--var NAME=VALUE`; `${request.…}` is left for the
    /// `on-connect` block it belongs to.
    func substitute(_ line: String) -> Swift.Result<String, CommandError> {
        var output = ""
        var rest = Substring(line)
        var column = 1
        while let start = rest.firstRange(of: "${") {
            output += rest[..<start.lowerBound]
            column += rest.distance(from: rest.startIndex, to: start.lowerBound)
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                return .failure(CommandError("unterminated ${ in a variable reference", column: column))
            }
            let name = String(rest[start.upperBound..<end])
            if name.hasPrefix("request.") {
                output += rest[start.lowerBound...end]
                column += name.count + 3
                rest = rest[rest.index(after: end)...]
                continue
            }
            guard let value = variables[name] else {
                return .failure(CommandError("no value for ${\(name)}; give one with --var \(name)=VALUE", column: column))
            }
            output += value
            column += name.count + 3
            rest = rest[rest.index(after: end)...]
        }
        return .success(output + rest)
    }

    // MARK: Reports

    private func report(_ results: [Result]) {
        let passed = results.filter(\.passed).count
        let failed = results.count - passed
        let testReport = TestReport(
            title: "drip run",
            cases: results.map { result in
                TestReport.Case(
                    suite: result.file, name: "\(result.file):\(result.line) \(result.name)",
                    outcome: result.passed ? .passed : result.isScriptError ? .error : .failed, message: result.message, seconds: result.seconds)
            })
        if tap {
            testReport.tapLines.forEach(Console.standardOutput.line)
        } else {
            for result in results where !result.passed {
                let line = result.isScriptError ? "ERROR \(result.message)" : "FAIL \(result.file):\(result.line): \(result.name) — \(result.message)"
                Console.standardOutput.line(line.visibleOnTerminal)
            }
            let errors = results.filter(\.isScriptError).count
            let expectations = results.count - errors
            Console.standardOutput.line(
                "drip run: \(files.count) script\(files.count == 1 ? "" : "s"), \(expectations) expectation\(expectations == 1 ? "" : "s")")
            Console.standardOutput.line(
                "\(passed) passed, \(failed - errors) failed" + (errors == 0 ? "" : ", \(errors) script error\(errors == 1 ? "" : "s")"))
        }
        if let junitPath, let problem = WholeFile.write(testReport.junitXML, to: junitPath) {
            Console.standardError.line("drip run: cannot write \(junitPath): \(problem)")
        }
    }
}
