import ArgumentParser
import EventStream
import SSEServer
import Workbench

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the embedded SSE server alone.",
        discussion: """
            Streams are created on first use: GET /streams/NAME subscribes (Last-Event-ID or ?lastEventId= resumes \
            from history), POST /streams/NAME publishes (the body is the data; event, id and retry from the query, \
            or a JSON body {"event","data","id","retry"}), GET /streams lists streams and clients as JSON, and \
            GET / is a viewer page for a browser (with a live timeline, from GET /timeline: an event stream of timeline entries).
            Logs connects, disconnects (with the reason) and publishes.
            With --tls it speaks HTTPS only, offering HTTP/2 and HTTP/1.1 by ALPN; the certificate is made at start \
            (P-256, self-signed for 127.0.0.1, ::1 and localhost) unless --cert and --key name one, and its SHA-256 \
            fingerprint and public key pin are printed for clients to trust it by (curl --pinnedpubkey, Chromium's \
            --ignore-certificate-errors-spki-list). Over HTTP/2 each EventSource is a stream: drop mode=stream resets one, \
            mode=connection ends the whole connection.
            SIGINT or SIGTERM ends every stream cleanly.
            A port that cannot be bound exits with status 1.
            """
    )

    @Option(help: "Address to listen on; another than loopback only when asked.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free port (printed).")
    var port = 8080

    @Option(help: "Require this token for streams, publishing and the listing (Authorization: Bearer TOKEN or ?token=TOKEN).")
    var token: String?

    @Option(name: .customLong("cors-origin"), help: "Allow this origin (repeatable); any origin when none is given.")
    var corsOrigins: [String] = []

    @Option(help: "Events each stream keeps for Last-Event-ID resumption.")
    var history = 100

    @Option(help: ArgumentHelp("Heartbeat comment interval (e.g. 15s); 0 for none.", valueName: "duration"))
    var heartbeat = DurationValue(clampingMilliseconds: 15_000)

    @Option(help: ArgumentHelp("The retry: each stream announces on connect (e.g. 2000ms, 3s).", valueName: "duration"))
    var retry: DurationValue?

    @Option(help: "Most connections open at once; more are answered 503.")
    var maxConnections = ServerLimits().maxConnections

    @Option(help: ArgumentHelp("Largest publish body accepted.", valueName: "size"))
    var maxBodySize = ByteSize(bytes: ServerLimits().maxBodySize)

    @Option(help: ArgumentHelp("Bytes a client may leave unread before it is dropped as too slow.", valueName: "size"))
    var maxQueue = ByteSize(bytes: ServerLimits().maxQueuedBytes)

    @Option(help: "Most streams at once; a request that would create one more is answered 503.")
    var maxStreams = ServerLimits().maxStreams

    @Option(help: ArgumentHelp("Bytes the history of all streams may hold together; the oldest events go first.", valueName: "size"))
    var maxHistorySize = ByteSize(bytes: ServerLimits().maxHistoryBytes)

    @Option(
        help: ArgumentHelp(
            "Drop a client that has not acknowledged what it was sent for this long (a half-open connection); 0 for the kernel's default.",
            valueName: "duration"))
    var deadPeerTimeout = DurationValue(clampingMilliseconds: ServerLimits().deadPeerTimeoutMilliseconds)

    @Option(
        help: ArgumentHelp(
            "Play this script's server side (a mock server): the top level once at start (streams, routes, faults, emits) and its on-connect blocks to every connection, until stopped; a script without blocks plays its set-up at once and the rest when the first client subscribes; its client lines (connect, expect and the like) are drip run's and are skipped.",
            valueName: "file"))
    var script: String?

    @Flag(help: "With --script: exit (status 0) once the first connection's on-connect block has ended.")
    var once = false

    @Flag(
        help: ArgumentHelp(
            "Serve HTTPS, offering HTTP/2 and HTTP/1.1 (ALPN); without --cert, with a certificate made at start for 127.0.0.1, ::1 and localhost, whose SHA-256 fingerprint and public key pin are printed."
        ))
    var tls = false

    @Option(help: ArgumentHelp("With --tls: the certificate chain to serve (PEM, leaf first).", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("With --tls: the certificate's private key (PEM, unencrypted).", valueName: "file"))
    var key: String?

    @Option(help: ArgumentHelp("The largest file an @FILE value (or a script) may be.", valueName: "size"))
    var maxFileSize = ByteSize(bytes: InputFile.defaultSizeLimit)

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a port number (0 to 65535)") }
        guard history >= 0 else { throw ValidationError("--history \(history) must be 0 or more") }
        if token?.isEmpty == true { throw ValidationError("--token is empty (an unset variable?); give a token, or leave --token out") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be at least 1") }
        guard maxStreams > 0 else { throw ValidationError("--max-streams must be at least 1") }
        if (cert != nil || key != nil) && !tls { throw ValidationError("--cert and --key need --tls") }
        if (cert == nil) != (key == nil) {
            throw ValidationError("--cert and --key go together: give both, or neither for a certificate made at start")
        }
        if once, script == nil { throw ValidationError("--once needs --script FILE (it ends after the script's first connection)") }
    }

    func run() async throws {
        var serverTLS: ServerTLS?
        if tls {
            do throws(ServerError) {
                if let cert, let key {
                    serverTLS = try ServerTLS.load(certificateFile: cert, keyFile: key)
                } else {
                    serverTLS = try ServerTLS.generated()
                }
            } catch {
                Console.standardError.line("drip serve: \(error)")
                throw ExitCode(1)
            }
        }
        let configuration = ServerConfiguration(
            host: host,
            port: port,
            token: token,
            allowedOrigins: corsOrigins,
            streamDefaults: StreamSettings(
                historySize: history, heartbeatMilliseconds: heartbeat.milliseconds, retryMilliseconds: retry?.milliseconds),
            limits: ServerLimits(
                maxConnections: maxConnections, maxBodySize: maxBodySize.bytes, maxQueuedBytes: maxQueue.bytes,
                deadPeerTimeoutMilliseconds: deadPeerTimeout.milliseconds, maxStreams: maxStreams, maxHistoryBytes: maxHistorySize.bytes),
            tls: serverTLS
        )
        if let warning = DescriptorLimit.warning(wanted: maxConnections, what: "connections") {
            Console.standardError.line("drip serve: warning: \(warning) (--max-connections); past them new connections get 503")
        }
        let status = await ServeTool(configuration: configuration, script: script, fileSizeLimit: maxFileSize.bytes, once: once).run()
        if status != 0 { throw ExitCode(status) }
    }
}
