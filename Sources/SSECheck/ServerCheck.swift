import EventStream
import NIOCore
import NIOPosix
import SSEClient

/// `drip check server`: connects to an SSE endpoint as EventSource would and grades it, check by
/// check (`ServerCheck.names`), each PASS, WARN, FAIL or SKIP with its evidence. With a publish URL
/// (a POST whose body becomes one event's data, as `drip serve`, nchan and most brokers take it)
/// the checks that need fresh events make their own, marked so that nothing else is mistaken for
/// them; without one they use what the server sends by itself and say so.
///
/// Every wait is bounded (`Timing`); the longest is the heartbeat watch, the idle budget plus a second.
public struct ServerCheck: Sendable {
    /// The checks in report order.
    public static let names = [
        "status", "content-type", "cache", "compression", "length", "first-byte", "heartbeat", "ids", "resume", "buffering", "retry", "cors",
        "http1.0", "abrupt-leave", "utf-8",
    ]

    /// What to check and how.
    public struct Options: Sendable {
        public var url: HTTPURL
        public var publishURL: HTTPURL?
        /// Sent with every request (the stream's and the publishes'): credentials, say.
        public var headers: [(name: String, value: String)]
        /// Sent as `Origin` on the main request, for the `cors` check (SKIP without it).
        public var origin: String?
        /// The longest silence allowed on an open stream (the idle timeout of the load balancers in front).
        public var idleBudget: Duration
        public var tls: TLSOptions
        public var timing = Timing()

        public init(
            url: HTTPURL, publishURL: HTTPURL? = nil, headers: [(name: String, value: String)] = [], origin: String? = nil,
            idleBudget: Duration = .seconds(30), tls: TLSOptions = TLSOptions()
        ) {
            self.url = url
            self.publishURL = publishURL
            self.headers = headers
            self.origin = origin
            self.idleBudget = idleBudget
            self.tls = tls
        }
    }

    /// How long each step waits.
    public struct Timing: Sendable {
        /// For the response head (longer is a FAIL of `first-byte`).
        public var head: Duration = .seconds(10)
        /// Headers sooner than this are prompt.
        public var promptHead: Duration = .seconds(1)
        /// An event published arriving within this is not held back (`buffering`).
        public var delivery: Duration = .milliseconds(500)
        /// For an event to arrive at all after it is published.
        public var arrival: Duration = .seconds(5)
        /// For events the server sends by itself, without a publish URL.
        public var unpublished: Duration = .seconds(10)
        public init() {}
    }

    public let options: Options
    let group: EventLoopGroup
    /// Marks the data of every event this run publishes.
    let marker: String

    public init(_ options: Options, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.options = options
        self.group = group
        var generator = SystemRandomNumberGenerator()
        marker = "drip-check-" + String(generator.next() & 0xFFFF_FFFF, radix: 16)
    }

    /// Runs every check and returns the results in `names` order; `progress` hears what is being
    /// waited for (a sentence), so a person knows why the heartbeat check takes half a minute.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async -> [CheckResult] {
        var results: [String: CheckResult] = [:]
        func record(_ result: CheckResult) { results[result.name] = result }
        await runChecks(record: record, progress: progress)
        return Self.names.map { results[$0] ?? CheckResult($0, .fail, "not judged: an earlier step could not be made") }
    }

    private func runChecks(record: (CheckResult) -> Void, progress: @Sendable (String) -> Void) async {
        let started = ContinuousClock.now
        let main: ProbeConnection
        do {
            main = try await open(subscription(lastEventId: nil, origin: options.origin))
        } catch {
            let reason = "cannot connect to \(options.url.hostHeader): \(EventSourceClient.describeError(error))"
            for name in Self.names { record(CheckResult(name, .fail, name == "status" ? reason : "not judged: \(reason)")) }
            return
        }
        defer { Task { await main.close() } }
        let opened = await main.wait(for: options.timing.head) { $0.head != nil }
        guard let head = opened.head, let headAt = opened.headAt else {
            let reason =
                opened.ending.map { "\($0) before any answer" } ?? "no response head within \(options.timing.head.evidenceText)"
            record(CheckResult("status", .fail, "GET \(options.url.target) → \(reason)", advice: "answer the request at once with its headers"))
            record(CheckResult("first-byte", .fail, reason, advice: "send the response head as soon as the request is accepted"))
            return
        }
        for result in HeadVerdicts(head: head, statusLine: opened.statusLine ?? "", target: options.url.target, origin: options.origin).all {
            record(result)
        }
        let afterHead = await main.wait(for: options.timing.promptHead) { $0.firstBodyAt != nil }
        record(
            HeadVerdicts.firstByte(
                headAfter: headAt - opened.sentAt, firstBodyAfter: afterHead.firstBodyAt.map { $0 - headAt }, timing: options.timing))
        guard head.status == 200 else { return }

        progress("reading events" + (options.publishURL == nil ? " the server sends by itself (no --publish)" : ""))
        let events = await eventChecks(main, record: record)
        record(
            events.retries.first.map { CheckResult("retry", .pass, "the stream announces retry: \($0) ms") }
                ?? CheckResult(
                    "retry", .warn, "no retry: field in \(events.bodyBytes) bytes of the stream",
                    advice: "announce one (retry: 3000) so that clients wait as long as you want them to before reconnecting"))

        progress("leaving and coming back with Last-Event-ID (resume)")
        record(await resumeCheck())
        progress("leaving with a TCP reset, then connecting again (abrupt-leave)")
        record(await abruptLeaveCheck())
        progress("asking in HTTP/1.0 (http1.0)")
        record(await http10Check())

        progress("watching the stream for \((options.idleBudget + .seconds(1)).evidenceText) of silence (heartbeat; --idle-budget sets it)")
        await main.watchGaps()
        let watched = await main.wait(for: options.idleBudget + .seconds(1)) { _ in false }
        record(HeadVerdicts.heartbeat(watched, budget: options.idleBudget, since: started))
    }

    // MARK: Requests

    func subscription(lastEventId: String?, origin: String?, http10: Bool = false) throws -> [UInt8] {
        var headers: [(name: String, value: String)] = [
            ("Accept", "text/event-stream"), ("Cache-Control", "no-cache"), ("Accept-Encoding", "gzip, deflate, br"),
        ]
        if let origin { headers.append(("Origin", origin)) }
        if let lastEventId { headers.append(("Last-Event-ID", lastEventId)) }
        for header in options.headers {
            headers.removeAll { $0.name.lowercased() == header.name.lowercased() }
            headers.append(header)
        }
        if http10 { headers.append(("Connection", "close")) }
        return try RequestHead(method: "GET", url: options.url, headers: headers).bytes(contentLength: nil, http10: http10)
    }

    func open(_ request: [UInt8]) async throws -> ProbeConnection {
        try await ProbeConnection.open(options.url, request: request, tls: options.tls, connectTimeout: .seconds(5), group: group)
    }

    /// Publishes one event whose data is `data`; nil when it went, otherwise why not.
    func publish(_ data: String) async -> String? {
        guard let url = options.publishURL else { return "no --publish" }
        do {
            let response = try await HTTPExchange.send(
                "POST", to: url, headers: options.headers + [("Content-Type", "text/plain; charset=utf-8")], body: Array(data.utf8),
                limits: .init(maxResponseSize: 64 << 10, timeout: .seconds(5)), tls: options.tls, group: group)
            return (200..<300).contains(response.status) ? nil : "POST \(url.target) was answered \(response.status)"
        } catch {
            return "POST \(url.target) failed: \(EventSourceClient.describeError(error))"
        }
    }
}
