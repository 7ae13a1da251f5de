import ArgumentParser
import EventStream
import SSECheck
import SSEClient
import Workbench

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Grade an SSE server, or an SSE client, check by check: PASS, WARN or FAIL with the evidence.",
        discussion: """
            drip check server URL connects to a server as EventSource would and grades what it does; drip check client \
            listens, lets a client (a browser page, an SDK, an app) connect, plays one scenario per connection and grades \
            what the client does next, from its requests alone.
            Exit status: 0 when no check FAILed (WARNs are listed with what to change), 1 when one did, 2 for a usage error.
            """,
        subcommands: [CheckServer.self, CheckClient.self]
    )
}

/// The report options both checks share.
struct CheckReportOptions: ParsableArguments {
    @Flag(help: "Report in TAP version 13 on standard output.")
    var tap = false

    @Flag(help: "One JSON object per check on standard output: check, verdict, evidence, advice.")
    var json = false

    @Option(help: ArgumentHelp("Also write a JUnit XML report to this file.", valueName: "path"))
    var junit: String?

    func validate() throws {
        guard !(tap && json) else { throw ValidationError("--tap and --json cannot both be given") }
    }

    var tool: CheckTool { CheckTool(format: tap ? .tap : json ? .json : .text, junitPath: junit) }
}

struct CheckServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Connect to an SSE endpoint as EventSource would and grade it.",
        discussion: """
            The checks, in report order: \(ServerCheck.names.joined(separator: ", ")).
            status, content-type, cache, compression, length and cors read the response head; first-byte times it; \
            heartbeat watches the open stream for the idle budget and a second, so a run takes about that long; ids, \
            buffering and utf-8 read events; resume leaves after two events and comes back with Last-Event-ID; \
            abrupt-leave leaves with a TCP reset and connects again; http1.0 asks in HTTP/1.0.
            With --publish URL (a POST whose body is the data of one event on the stream checked, as drip serve and nchan \
            take it) drip publishes events of its own, marked drip-check-…, to time and count them; without it the checks \
            that need fresh events use what the server sends by itself, and say so (buffering is then not judged: WARN).
            """
    )

    @Argument(help: "The event stream's URL (http:// or https://).")
    var url: String

    @Option(help: ArgumentHelp("Where a POST publishes one event to that stream (its body is the data).", valueName: "url"))
    var publish: String?

    @Option(
        name: .customLong("header"), help: ArgumentHelp("A request header 'Name: value', sent with every request (repeatable).", valueName: "header"))
    var headers: [String] = []

    @Option(help: ArgumentHelp("Ask as a page of this origin would (the cors check; SKIP without it).", valueName: "origin"))
    var origin: String?

    @Option(help: ArgumentHelp("The longest silence allowed on an open stream: the idle timeout of what stands in front.", valueName: "duration"))
    var idleBudget = DurationValue(clampingMilliseconds: 30_000)

    @Option(name: .customLong("cacert"), help: "Also trust the certificates in this PEM file (an https URL; repeatable).")
    var trustedCertificates: [String] = []

    @Flag(help: "Skip TLS certificate verification.")
    var insecure = false

    @OptionGroup var report: CheckReportOptions

    func run() async throws {
        func parse(_ text: String, _ option: String) throws -> HTTPURL {
            do { return try HTTPURL(parsing: text) } catch { throw ValidationError("\(option)\(error.description)") }
        }
        var options = ServerCheck.Options(url: try parse(url, ""), idleBudget: idleBudget.duration)
        options.publishURL = try publish.map { try parse($0, "--publish: ") }
        do { options.headers = try headers.map(RequestHead.header(parsing:)) } catch { throw ValidationError("--header: \(error)") }
        if let origin {
            guard HTTPSyntax.isFieldValue(origin), !origin.isEmpty else {
                throw ValidationError("--origin \(origin.debugDescription) is not a header value")
            }
            options.origin = origin
        }
        guard idleBudget.milliseconds >= 1000 else { throw ValidationError("--idle-budget \(idleBudget) is less than 1s") }
        options.tls = TLSOptions(trustedCertificateFiles: trustedCertificates, verifiesCertificates: !insecure)
        let status = await report.tool.runServer(options)
        if status != 0 { throw ExitCode(status) }
    }
}

struct CheckClient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Listen, let a client connect, play one scenario per connection and grade what it does next.",
        discussion: """
            Prints a URL; point the client at it (any path on that port works, and pages of any origin may: CORS is allowed). \
            The checks, in order: \(ClientCheckMachine.names.joined(separator: ", ")).
            Connection 1 sends events with ids 1 and 2 and retry: 1000, then ends; 2 sends an event without id; 3 one with \
            an empty id:; 4 event 10 and half of event 11, then a TCP reset; 5 a 307 redirect; 6 the answer --end names, \
            watched for 3 s; each is judged from the request that follows it: when it came (retry), its Last-Event-ID, its URL.
            A client that does not come back within 8 s fails the checks left, saying why.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free port (printed).")
    var port = 0

    @Option(help: ArgumentHelp("The last answer: 204 (the client must stop), 500 or wrong-type (it must not retry in a hot loop).", valueName: "end"))
    var end = "204"

    @Option(help: ArgumentHelp("The most the whole run may take, waiting for the client included.", valueName: "duration"))
    var timeout = DurationValue(clampingMilliseconds: 120_000)

    @OptionGroup var report: CheckReportOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a port number (0 to 65535)") }
        guard ClientCheckMachine.End(rawValue: end) != nil else {
            throw ValidationError("--end \(end) is not one of \(ClientCheckMachine.End.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard timeout.milliseconds >= 1000 else { throw ValidationError("--timeout \(timeout) is less than 1s") }
    }

    func run() async throws {
        let status = await report.tool.runClient(
            host: host, port: port, end: ClientCheckMachine.End(rawValue: end) ?? .noContent, timeout: timeout.duration)
        if status != 0 { throw ExitCode(status) }
    }
}
