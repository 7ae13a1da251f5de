import ArgumentParser
import EventStream
import SSEClient
import Workbench

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Connect to an event stream and print every event, like a browser's EventSource with more to see.",
        discussion: """
            Follows the EventSource rules: 200 with text/event-stream opens; 204 stops (exit 0); another status or \
            content type fails (exit 1); redirects are followed; when an open stream ends or breaks it reconnects after \
            the reconnection time (3 s until the server sends retry:), sending Last-Event-ID.
            A first connection that cannot be made fails at once.
            Over https it speaks HTTP/2 when the server offers it by ALPN (--http2 requires it, --http1.1 refuses it); \
            plain http is always HTTP/1.1.
            To a server on this machine (127.0.0.0/8, ::1, localhost) its socket has an 8 MiB receive buffer when the system \
            grants one (net.core.rmem_max at least 4 MiB: Linux doubles what a socket asks for), so that TCP's window never \
            holds up a fast local stream; otherwise, and for other servers, the buffer is TCP's autotuning.
            Ctrl-C closes the stream (exit 0).
            """
    )

    @Argument(help: "The stream URL (http://…).")
    var url: String

    @Option(name: [.customShort("H"), .customLong("header")], help: "A request header, 'Name: value' (repeatable).")
    var headers: [String] = []

    @Option(name: [.customShort("X"), .customLong("method")], help: "The request method (POST when --data is given).")
    var method: String?

    @Option(name: [.short, .customLong("data")], help: "A request body; @FILE reads it from a file.")
    var data: String?

    @Option(help: ArgumentHelp("The largest file an @FILE value (or a script) may be.", valueName: "size"))
    var maxFileSize = ByteSize(bytes: InputFile.defaultSizeLimit)

    @Option(help: "Send this Last-Event-ID on the first request.")
    var lastEventId: String?

    @Flag(help: "Do not reconnect when the stream ends or breaks.")
    var noReconnect = false

    @Option(help: "Give up after this many failed reconnections in a row.")
    var maxRetries: Int?

    @Option(help: "Multiply the reconnection delay by this after each failed attempt (1: constant).")
    var backoff: Double = 1

    @Option(help: ArgumentHelp("The longest reconnection delay backoff may reach.", valueName: "duration"))
    var maxDelay = DurationValue(clampingMilliseconds: 60_000)

    @Option(help: "Take up to this share (0 to 1) off each delay at random.")
    var jitter: Double = 0

    @Option(help: ArgumentHelp("Treat a stream silent this long as broken (e.g. 30s).", valueName: "duration"))
    var readTimeout: DurationValue?

    @Option(name: .customLong("event"), help: "Print only events of this type (repeatable).")
    var eventTypes: [String] = []

    @Flag(help: "One JSON object per line: events as `drip decode` prints them, plus state lines.")
    var json = false

    @Flag(name: [.customShort("i"), .customLong("include")], help: "On a response that does not open the stream, print its headers too.")
    var include = false

    @Flag(help: "Also print comment lines.")
    var comments = false

    @Flag(help: "Also print the body bytes of each read, as they arrived.")
    var raw = false

    @Flag(help: "Prefix each line with the local time.")
    var timestamps = false

    @Flag(help: "Pretty-print event data that is a JSON object.")
    var pretty = false

    @Flag(help: "Skip TLS certificate verification (https).")
    var insecure = false

    @Flag(help: "Follow a redirect from https down to plain http (refused otherwise).")
    var allowInsecureRedirect = false

    @Flag(name: .customLong("http2"), help: "Over https, require HTTP/2 (ALPN h2); a server that does not offer it is an error.")
    var http2 = false

    @Flag(name: .customLong("http1.1"), help: "Over https, speak HTTP/1.1 only (by default HTTP/2 when the server offers it).")
    var http1 = false

    @Option(name: .customLong("cacert"), help: "Also trust the certificates in this PEM file (https; repeatable).")
    var trustedCertificates: [String] = []

    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if let maxRetries, maxRetries < 0 { throw ValidationError("--max-retries must be 0 or more") }
        guard backoff >= 1 else { throw ValidationError("--backoff must be 1 or more") }
        if http2 && http1 { throw ValidationError("--http2 and --http1.1 exclude each other; give one") }
        guard (0...1).contains(jitter) else { throw ValidationError("--jitter must be between 0 and 1") }
        for header in headers {
            do { _ = try RequestHead.header(parsing: header) } catch { throw ValidationError("--header: \(error)") }
        }
        if let method, !HTTPSyntax.isToken(method) { throw ValidationError("-X \(method.debugDescription) is not an HTTP method (a token)") }
    }

    func run() async throws {
        let target: HTTPURL
        do { target = try HTTPURL(parsing: url) } catch { throw ValidationError(error.description) }
        var body: [UInt8]?
        if let data {
            if data.hasPrefix("@") {
                do throws(ToolError) { body = try InputFile.contents(of: String(data.dropFirst()), limit: maxFileSize.bytes) } catch {
                    printError("drip connect: \(error.message)")
                    throw ExitCode(2)
                }
            } else {
                body = Array(data.utf8)
            }
        }
        if insecure {
            printError("drip connect: warning: --insecure skips certificate verification; anyone on the path can read and change this stream")
        }
        let request: ClientRequest
        do {
            request = ClientRequest(
                url: target,
                method: (method ?? (body == nil ? "GET" : "POST")).uppercased(),
                headers: try headers.map { header throws(RequestError) in try RequestHead.header(parsing: header) },
                body: body,
                lastEventId: lastEventId ?? ""
            )
            try request.validate()
        } catch {
            throw ValidationError(error.description)
        }
        var options = ClientOptions(
            request: request,
            policy: ReconnectPolicy(backoffMultiplier: backoff, maximumDelay: maxDelay.duration, jitter: jitter, maxAttempts: maxRetries),
            reconnects: !noReconnect,
            readTimeout: readTimeout?.duration,
            limits: .init(maxLineLength: limits.maxLineLength.bytes, maxEventSize: limits.maxEventSize.bytes),
            reportsRawBytes: raw,
            tls: TLSOptions(trustedCertificateFiles: trustedCertificates, verifiesCertificates: !insecure)
        )
        options.allowsInsecureRedirects = allowInsecureRedirect
        options.httpVersion = http2 ? .http2 : http1 ? .http1 : .any
        let style = ClientOutputStyle(
            json: json, comments: comments, raw: raw, timestamps: timestamps, prettyJSON: pretty, eventTypes: Set(eventTypes),
            includesHeaders: include)
        let status = await ConnectTool(options: options, style: style).run(endingProcess: true)
        if status != 0 { throw ExitCode(status) }
    }
}
