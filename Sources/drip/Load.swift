import ArgumentParser
import EventStream
import SSEClient
import SSELoad
import SSEServer
import Workbench

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Open many subscriptions at once (and optionally publish) and report delivery: what wrk is for HTTP, for SSE.",
        discussion: """
            drip load URL … (drip load run) runs a load; drip load merge A.json B.json … sums the --json reports of \
            several runs (several processes or machines) into one, with percentiles from their merged latency histograms.
            """,
        subcommands: [LoadRun.self, LoadMerge.self],
        defaultSubcommand: LoadRun.self
    )
}

struct LoadMerge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Sum the --json reports of several drip load runs into one report.",
        discussion: """
            A load larger than one machine runs as several drip load --json processes, started by whatever runs them \
            (a CI matrix, a Kubernetes Job, ssh), each writing its report to a file. merge adds their subscribers, \
            deliveries, losses and failures, takes the longest delivery time and the most events published, and \
            computes the latency percentiles from the sum of their HdrHistograms: true percentiles of every delivery, \
            not averages of each run's.
            Exit status: 0 when nothing was lost and every subscriber connected, 1 otherwise, 2 when a report cannot be read.
            """
    )

    @Argument(help: ArgumentHelp("The reports: each the output of drip load --json.", valueName: "report.json"))
    var reports: [String] = []

    @Flag(help: "Print the merged report as one JSON object (itself mergeable).")
    var json = false

    func validate() throws {
        guard !reports.isEmpty else { throw ValidationError("give the reports to merge (each written by drip load --json)") }
    }

    func run() async throws {
        let status = LoadTool.merge(paths: reports, json: json)
        if status != 0 { throw ExitCode(status) }
    }
}

struct LoadRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a load (the default: drip load URL is drip load run URL).",
        discussion: """
            Opens --clients subscriptions to URL, at most --connect-concurrency at a time.
            With --publish, POSTs --events events to that URL (at --rate per second, or as fast as it answers), each \
            carrying {"seq":N,"t":NANOSECONDS} (the wall clock's), and reports delivered events/s, latency percentiles, the connect \
            rate and times, each event's fan-out (from its send until the last subscriber had it: p50, p99, max), and \
            events lost, duplicated or out of order per subscriber.
            Without --publish, it stays subscribed for --duration and counts what arrives.
            With --churn N, N more connections churn while the events are published (subscribe, read a few events, \
            vanish by a reset or an abrupt close, and again), so a soak can check that the steady subscribers lose \
            nothing while the server sheds the others; the report adds the churn cycles and the peak of open connections.
            Over https each subscriber has a TLS connection of its own (HTTP/1.1), or, with --http2, is a stream of one of \
            --connections HTTP/2 connections; the publisher speaks HTTP/1.1 over TLS.
            A subscriber refused (an error status such as the 503 of a server at its connection limit) or not answered \
            within --connect-timeout counts as failed at once; the failures are reported by reason as soon as every \
            subscriber has connected or failed.
            Exit status: 0 when every subscriber connected and nothing was lost, 1 otherwise.
            """
    )

    @Argument(help: "The stream to subscribe to (http:// or https://).")
    var url: String

    @Option(help: "Subscriptions to open.")
    var clients = 100

    @Option(help: "Connections being opened at once.")
    var connectConcurrency = 200

    @Option(
        help: ArgumentHelp(
            "How long a subscriber may take to connect, and then to get its response head, before it counts as failed.", valueName: "duration"))
    var connectTimeout = DurationValue(clampingMilliseconds: 10_000)

    @Option(help: "Publish to this URL with POST (e.g. the same stream URL on drip).")
    var publish: String?

    @Option(help: "Events to publish; without --publish, the sequence numbers (1 to this) whose delivery and fan-out are tracked.")
    var events = 1000

    @Option(help: "Events per second to publish; as fast as possible when omitted.")
    var rate: Double?

    @Option(help: "Bytes of data per published event.")
    var size = 100

    @Option(help: "Publish requests in flight at once (HTTP/1.1 pipelining).")
    var pipeline = 1

    @Option(help: ArgumentHelp("Without --publish: how long to stay subscribed.", valueName: "duration"))
    var duration = DurationValue(clampingMilliseconds: 10_000)

    @Option(help: ArgumentHelp("With --publish: how long to wait for deliveries after the last publish.", valueName: "duration"))
    var settle = DurationValue(clampingMilliseconds: 10_000)

    @Option(name: [.customShort("H"), .customLong("header")], help: "A request header, 'Name: value' (repeatable).")
    var headers: [String] = []

    @Option(help: "Event loop threads (default: one per core).")
    var threads = LoadOptions.defaultThreads

    @Option(
        help: ArgumentHelp(
            "While publishing, this many more connections churn: each subscribes, reads a few events, and vanishes (a reset or an abrupt close), replaced at once.",
            valueName: "count"))
    var churn = 0

    @Option(help: "The most events a churning connection reads before it vanishes (1 to this, at random).")
    var churnReads = 20

    @Flag(help: "Subscribe as HTTP/2 streams (https only), spread over --connections connections.")
    var http2 = false

    @Option(help: "With --http2: the HTTP/2 connections the subscribers share (at most 100 streams each).")
    var connections = 1

    @Option(
        help: ArgumentHelp(
            "Local addresses to connect from, in turn: a range (127.0.0.1-127.0.0.4), a list (a,b) or one; one address has about 28,000 ports toward one server.",
            valueName: "addresses"))
    var source: String?

    @Flag(help: "Skip TLS certificate verification (https).")
    var insecure = false

    @Option(name: .customLong("cacert"), help: "Also trust the certificates in this PEM file (https; repeatable).")
    var trustedCertificates: [String] = []

    @Flag(help: "Print the report as one JSON object, with its latency histogram (drip load merge sums such reports).")
    var json = false

    func validate() throws {
        guard clients >= 0 else { throw ValidationError("--clients must be 0 or more") }
        guard connectConcurrency > 0 else { throw ValidationError("--connect-concurrency must be at least 1") }
        guard connectTimeout.milliseconds > 0 else { throw ValidationError("--connect-timeout must be more than 0 (e.g. 10s)") }
        guard events >= 0 else { throw ValidationError("--events must be 0 or more") }
        guard threads > 0 else { throw ValidationError("--threads must be at least 1") }
        guard pipeline > 0 else { throw ValidationError("--pipeline must be at least 1") }
        guard churn >= 0 else { throw ValidationError("--churn must be 0 or more") }
        guard churnReads > 0 else { throw ValidationError("--churn-reads must be at least 1") }
        guard connections > 0 else { throw ValidationError("--connections must be at least 1") }
        if http2, clients > connections * SSEServer.maxStreamsPerConnection {
            throw ValidationError(
                "--clients \(clients) over --connections \(connections) is more than \(SSEServer.maxStreamsPerConnection) streams per connection (drip serve's SETTINGS_MAX_CONCURRENT_STREAMS; nginx's default is 128); give --connections \((clients + SSEServer.maxStreamsPerConnection - 1) / SSEServer.maxStreamsPerConnection) or more"
            )
        }
        if let source {
            do throws(LoadError) { _ = try SourceAddresses(parsing: source) } catch { throw ValidationError(error.description) }
            if http2 { throw ValidationError("--source spreads HTTP/1.1 connections; with --http2 the subscribers share --connections connections") }
        }
        if !http2, connections != 1 { throw ValidationError("--connections spreads HTTP/2 streams; it needs --http2") }
        if churn > 0, publish == nil { throw ValidationError("--churn needs --publish: connections churn while events are published") }
        if let rate, !LoadOptions.rates.contains(rate) {
            throw ValidationError(
                "--rate \(rate) is outside \(LoadOptions.rates.lowerBound) to \(Int(LoadOptions.rates.upperBound)) events per second")
        }
        for header in headers {
            do { _ = try RequestHead.header(parsing: header) } catch { throw ValidationError("--header: \(error)") }
        }
    }

    func run() async throws {
        var options: LoadOptions
        do {
            options = LoadOptions(
                url: try HTTPURL(parsing: url),
                clients: clients,
                connectConcurrency: connectConcurrency,
                publishURL: try publish.map { try HTTPURL(parsing: $0) },
                events: events,
                rate: rate,
                payloadSize: size,
                pipeline: pipeline,
                duration: duration.duration,
                settleTimeout: settle.duration,
                headers: try headers.map { header throws(RequestError) in try RequestHead.header(parsing: header) },
                threads: threads,
                churners: churn,
                churnReads: churnReads
            )
            options.tls = TLSOptions(trustedCertificateFiles: trustedCertificates, verifiesCertificates: !insecure)
            options.http2Connections = http2 ? connections : nil
            options.connectTimeout = connectTimeout.duration
            options.sources = try source.map { (text) throws(LoadError) in try SourceAddresses(parsing: text) }
        } catch {
            throw ValidationError(String(describing: error))
        }
        if let warning = DescriptorLimit.warning(
            wanted: (http2 ? connections : clients + churn) + (publish == nil ? 0 : 1), what: http2 ? "connections" : "subscribers")
        {
            Console.standardError.line(
                "drip load: warning: \(warning); the rest fail to connect and are reported (run several drip load processes for more)")
        }
        let status = await LoadTool(options: options, json: json).run()
        if status != 0 { throw ExitCode(status) }
    }
}
