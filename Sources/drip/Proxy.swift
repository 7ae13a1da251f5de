import ArgumentParser
import SSEClient
import SSEProxy
import Workbench

struct Proxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Stand between a real client and a real server: forward everything, show every event as it passes.",
        discussion: """
            A reverse proxy: point the client at the URL drip proxy prints instead of the server's. Every request (method, \
            path, query, headers, body) goes to UPSTREAM, its path after UPSTREAM's own; every answer comes back as it \
            arrives, event streams read by read and never held, with each request, answer, event, comment and retry \
            printed as drip connect prints a stream, numbered by exchange (#1, #2 and so on).
            Hop-by-hop headers stop at the proxy; Via and X-Forwarded-For are added.
            Breaking the stream on purpose (drop after N events, skip, duplicate, rewrite, reject) is the REPL's and \
            scripts' proxy command (drip-script(5)).
            SIGINT or SIGTERM closes every connection and exits 0.
            """
    )

    @Argument(help: "The server to forward to: an http:// or https:// base URL.")
    var upstream: String

    @Option(help: "Address to listen on; another than loopback only when asked.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free port (printed).")
    var port = 0

    @Option(name: .customLong("cacert"), help: "Also trust the certificates in this PEM file (an https upstream; repeatable).")
    var trustedCertificates: [String] = []

    @Flag(help: "Skip TLS certificate verification of an https upstream.")
    var insecure = false

    @Flag(help: "One JSON object per line, for each request, answer, event and end.")
    var json = false

    @Flag(help: "Print requests, answers and ends only, not each event (events are still parsed, for the faults and --capture).")
    var quiet = false

    @Flag(help: "Also print comment lines.")
    var comments = false

    @Flag(name: [.customShort("i"), .customLong("include")], help: "Print the headers of each request and answer too.")
    var include = false

    @Flag(help: "Prefix each line with the local time.")
    var timestamps = false

    @Option(
        help: ArgumentHelp(
            "Write what passes as a mock-server script (drip serve --script FILE plays it in the upstream's place).", valueName: "file"))
    var capture: String?

    @Flag(help: "With --capture: keep tokens (Authorization, Cookie, token=) in the script as they were, not as ***.")
    var captureSecrets = false

    @Option(help: "Event loop threads (each client connection and its upstream one live on one).")
    var threads = 1

    @Option(help: "Most client connections open at once; more are closed at once.")
    var maxConnections = 10_000

    @Option(help: ArgumentHelp("Largest request body forwarded; a larger one is answered 413.", valueName: "size"))
    var maxBodySize = ByteSize(bytes: 1 << 20)

    @Option(help: ArgumentHelp("Bytes a client may leave unread before it is dropped as too slow.", valueName: "size"))
    var maxQueue = ByteSize(bytes: 1 << 20)

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a port number (0 to 65535)") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be at least 1") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads \(threads) is not from 1 to 64") }
    }

    func run() async throws {
        let target: HTTPURL
        do { target = try HTTPURL(parsing: upstream) } catch { throw ValidationError(error.description) }
        if insecure {
            printError("drip proxy: warning: --insecure skips certificate verification of \(target.hostHeader)")
        }
        var tool = ProxyTool(
            upstream: target, host: host, port: port, tls: TLSOptions(trustedCertificateFiles: trustedCertificates, verifiesCertificates: !insecure),
            limits: ProxyServer.Limits(maxConnections: maxConnections, maxBodySize: maxBodySize.bytes, maxQueuedBytes: maxQueue.bytes),
            output: ProxyOutput(style: ClientOutputStyle(json: json, comments: comments, timestamps: timestamps, includesHeaders: include)),
            capturePath: capture, captureKeepsSecrets: captureSecrets)
        tool.quiet = quiet
        tool.threads = threads
        let status = await tool.run()
        if status != 0 { throw ExitCode(status) }
    }
}
