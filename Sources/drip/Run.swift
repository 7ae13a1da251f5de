import ArgumentParser
import Workbench

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run scripts of the command language and check their expectations, for CI.",
        discussion: """
            Each FILE runs in a fresh workbench, line by line, as if typed at the REPL.
            Every expect / expect-not is a test.
            Exit status: 0 when all pass, 1 when an expectation failed, 2 for a script error (bad syntax, an unknown \
            command, a command that could not run), reported as FILE:LINE:COLUMN.
            The command language is described in drip-script(5).
            """
    )

    @Argument(help: "Scripts to run.")
    var files: [String]

    @Flag(help: "Report in TAP version 13 on standard output.")
    var tap = false

    @Option(help: ArgumentHelp("Also write a JUnit XML report to this file.", valueName: "path"))
    var junit: String?

    @Option(
        help: ArgumentHelp(
            "Also write an HTML report to this file: each script's verdicts and its timeline drawn.",
            discussion: "One self-contained file (no network, no script): it opens from disk and prints.", valueName: "path"))
    var report: String?

    @Option(help: ArgumentHelp("Also write every script's timeline to this file as JSON lines.", valueName: "path"))
    var timeline: String?

    @Flag(help: "Stop at the first failure.")
    var bail = false

    @Option(name: .customLong("var"), help: ArgumentHelp("Replace ${NAME} in the scripts (repeatable).", valueName: "NAME=VALUE"))
    var variables: [String] = []

    @Option(help: ArgumentHelp("The largest file an @FILE value (or a script) may be.", valueName: "size"))
    var maxFileSize = ByteSize(bytes: InputFile.defaultSizeLimit)

    @Flag(name: .shortAndLong, help: "Print everything the scripts do on standard error.")
    var verbose = false

    @Option(
        help: ArgumentHelp(
            "Run the scripts' clock this many times faster.",
            discussion:
                "Sleeps, expectation deadlines, and the server's and clients' timers (retry, heartbeat, idle timeout, stall, delay, chunk interval, read timeout) are all divided by it, so a script keeps its meaning; a passing expectation still gets at least 250 ms of real time, so a busy machine does not fail a fast run."
        ))
    var speed: Double = 1

    func validate() throws {
        guard speed > 0, speed.isFinite else { throw ValidationError("--speed must be a number more than 0, not \(speed)") }
        for variable in variables where !variable.contains("=") {
            throw ValidationError("--var \(variable.debugDescription) is not NAME=VALUE")
        }
    }

    func run() async throws {
        var values: [String: String] = [:]
        for variable in variables {
            let equals = variable.firstIndex(of: "=") ?? variable.endIndex
            values[String(variable[..<equals])] = String(variable[variable.index(after: equals)...])
        }
        let status = await RunTool(
            files: files, tap: tap, junitPath: junit, reportPath: report, timelinePath: timeline, bail: bail, variables: values, verbose: verbose,
            speed: speed, fileSizeLimit: maxFileSize.bytes
        ).run()
        if status != 0 { throw ExitCode(status) }
    }
}
