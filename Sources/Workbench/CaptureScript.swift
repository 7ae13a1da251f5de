import EventStream
import SSEProxy
import SSEServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What passed through a proxy, as a mock-server script that `drip serve --script` plays in the
/// upstream's place: each path seen with an event stream becomes a routed stream (its methods, the
/// first `retry` it announced), and its connections become one `on-connect` block — a connection
/// that resumed with `Last-Event-ID: X` is the branch `if request.header.Last-Event-ID=X`, the first
/// fresh one is the default branch, later ones `if request.number=N`; each plays the upstream's
/// events, comments and refusals with their original spacing as `sleep` lines, and ends with `drop`
/// where the upstream ended it. A pure model: `add` takes `now`, `lines` renders the whole script.
///
/// Invariants: every value written is quoted to read back as it was (`Recorder.quoted`); request
/// targets in comments have secrets masked unless `keepsSecrets`; at most `maxBranches` branches a
/// stream (the language nests `if` 16 deep), at most `maxItems` items an exchange.
struct CaptureScript {
    static let maxBranches = 15
    static let maxItems = 100_000
    /// The longest duration a script line may hold (`retry=`, `sleep`): drip's bound on any duration.
    static let maxMilliseconds = DurationValue.maximumMilliseconds

    /// One exchange through the proxy, as far as it got.
    struct Exchange {
        var number: Int
        var method: String
        var target: String
        var lastEventId: String?
        var startedAt: ContinuousClock.Instant
        var status: Int?
        var reason = ""
        var contentType: String?
        var isEventStream = false
        var keptHeaders: [HeaderField] = []
        var items: [(at: ContinuousClock.Instant, item: Item)] = []
        var endedByUpstream = false

        var path: String { String(target.prefix { $0 != "?" && $0 != "#" }) }
    }

    enum Item {
        case event(ServerSentEvent)
        case comment(String)
        case retry(Int)
    }

    /// Response headers a refusal replays (what clients act on).
    static let replayedHeaders: Set<String> = ["retry-after", "www-authenticate", "location"]

    let upstream: String
    let keepsSecrets: Bool
    private(set) var exchanges: [Exchange] = []

    init(upstream: String, keepsSecrets: Bool) {
        self.upstream = upstream
        self.keepsSecrets = keepsSecrets
    }

    mutating func add(_ event: ProxyEvent, at now: ContinuousClock.Instant) {
        switch event {
        case .request(let number, let method, let target, let headers):
            let lastEventId = headers.first { $0.name.lowercased() == "last-event-id" }?.value
            exchanges.append(Exchange(number: number, method: method, target: target, lastEventId: lastEventId, startedAt: now))
        case .response(let number, let status, let reason, let contentType, let isEventStream, let headers):
            update(number) { exchange in
                exchange.status = status
                exchange.reason = reason
                exchange.contentType = contentType
                exchange.isEventStream = isEventStream && status == 200
                exchange.keptHeaders = headers.filter { Self.replayedHeaders.contains($0.name.lowercased()) }
                exchange.startedAt = now
            }
        case .observed(let number, let observation):
            let item: Item? =
                switch observation {
                case .event(let sse, _): .event(sse)
                case .comment(let text): .comment(text)
                case .retry(let milliseconds): .retry(milliseconds)
                case .unreadable, .faultDone: nil
                }
            guard let item else { return }
            update(number) { exchange in
                if exchange.items.count < Self.maxItems { exchange.items.append((now, item)) }
            }
        case .ended(let number, _, let byUpstream):
            update(number) { $0.endedByUpstream = byUpstream }
        case .problem:
            break
        }
    }

    private mutating func update(_ number: Int, _ change: (inout Exchange) -> Void) {
        guard let index = exchanges.lastIndex(where: { $0.number == number }) else { return }
        change(&exchanges[index])
    }

    // MARK: rendering

    /// The whole script as it stands.
    func lines() -> [String] {
        var lines = [
            "# Captured by drip's proxy from \(Secrets.masked(upstream)). Serve it in the upstream's place with:",
            "#   drip serve --script THIS-FILE",
            "# Each path with an event stream is a stream; each connection's events replay to each new connection with",
            "# their spacing (a resumed connection is its Last-Event-ID's branch). Bodies of other answers are not kept.",
        ]
        var routes: [(path: String, exchanges: [Exchange])] = []
        for exchange in exchanges where exchange.status != nil {
            if let index = routes.firstIndex(where: { $0.path == exchange.path }) {
                routes[index].exchanges.append(exchange)
            } else {
                routes.append((exchange.path, [exchange]))
            }
        }
        var names: Set<String> = []
        for route in routes {
            guard route.exchanges.contains(where: \.isEventStream) else {
                lines += route.exchanges.map { "# not captured (not an event stream): \(summary(of: $0))" }
                continue
            }
            let name = Self.streamName(for: route.path, taken: names)
            names.insert(name)
            lines.append("")
            lines += self.route(name: name, path: route.path, exchanges: route.exchanges)
        }
        return lines
    }

    private func route(name: String, path: String, exchanges: [Exchange]) -> [String] {
        var methods: [String] = []
        for exchange in exchanges where !methods.contains(exchange.method) { methods.append(exchange.method) }
        var line = "stream \(name) heartbeat=0"
        if path != "/streams/\(name)" { line += " path=\(Recorder.quoted(path)) method=\(methods.joined(separator: ","))" }
        let firstRetry = exchanges.lazy.flatMap(\.items).compactMap { if case .retry(let value) = $0.item { value } else { nil } }.first
        // An upstream's retry is any number of digits; the script's durations stop at drip's bound.
        if let firstRetry { line += " retry=\(min(firstRetry, Self.maxMilliseconds))ms" }
        var branches: [(condition: String?, exchange: Exchange)] = []
        var leftOut: [Exchange] = []
        var seenIds: Set<String> = []
        var hasDefault = false
        for (index, exchange) in exchanges.enumerated() {
            let condition: String?
            if let id = exchange.lastEventId, !seenIds.contains(id), Self.isConditionValue(id) {
                seenIds.insert(id)
                condition = "request.header.Last-Event-ID=\(id)"
            } else if exchange.lastEventId == nil, !hasDefault {
                hasDefault = true
                condition = nil
            } else {
                condition = "request.number=\(index + 1)"
            }
            if condition != nil, branches.count(where: { $0.condition != nil }) >= Self.maxBranches {
                leftOut.append(exchange)
            } else {
                branches.append((condition, exchange))
            }
        }
        var lines = [line, "on-connect \(name)"]
        lines += leftOut.map { "  # left out (more than \(Self.maxBranches) branches): \(summary(of: $0))" }
        let conditional = branches.filter { $0.condition != nil }
        let fallback = branches.first { $0.condition == nil }
        for (depth, branch) in conditional.enumerated() {
            let indent = String(repeating: "  ", count: depth + 1)
            lines.append(indent + "if \(branch.condition ?? "")")
            lines += body(of: branch.exchange, stream: name, indent: indent + "  ")
            lines.append(indent + "else")
        }
        let innermost = String(repeating: "  ", count: conditional.count + 1)
        if let fallback { lines += body(of: fallback.exchange, stream: name, indent: innermost) }
        for depth in stride(from: conditional.count, to: 0, by: -1) { lines.append(String(repeating: "  ", count: depth) + "end") }
        lines.append("end")
        return lines
    }

    /// The lines one exchange plays: its refusal, or its items with the pauses between them.
    private func body(of exchange: Exchange, stream: String, indent: String) -> [String] {
        var lines = [indent + "# \(summary(of: exchange))"]
        guard exchange.isEventStream else {
            var refusal = "reject \(stream) \(exchange.status ?? 500)"
            for header in exchange.keptHeaders { refusal += " header=\(Recorder.quoted("\(header.name): \(header.value)"))" }
            return lines + [indent + refusal]
        }
        var last = exchange.startedAt
        var lastId = ""
        for (at, item) in exchange.items {
            // A retry writes no line (the stream announces the first), so its time is no pause of its own.
            if case .retry = item { continue }
            let pause = min((at - last).clampedMilliseconds, Self.maxMilliseconds)
            if pause >= 5 { lines.append(indent + "sleep \(pause)ms") }
            last = at
            switch item {
            case .event(let sse):
                var line = "emit \(stream)"
                if sse.type != ServerSentEvent.defaultType { line += " event=\(Recorder.quoted(sse.type))" }
                if let id = sse.id, id != lastId {
                    line += " id=\(Recorder.quoted(id))"
                    lastId = id
                }
                lines.append(indent + line + " data=\(Recorder.quoted(sse.data))")
            case .comment(let text):
                lines.append(indent + "comment \(stream) \(Recorder.quoted(text))")
            case .retry:
                break  // announced by the stream (its first one); later ones are the upstream's choice again
            }
        }
        if exchange.endedByUpstream { lines.append(indent + "drop \(stream)") }
        return lines
    }

    private func summary(of exchange: Exchange) -> String {
        let target = keepsSecrets ? exchange.target : Secrets.masked(exchange.target)
        let resumed = exchange.lastEventId.map { " (Last-Event-ID: \($0))" } ?? ""
        let answer = exchange.status.map { " → \($0) \(exchange.reason)" + (exchange.contentType.map { " \($0)" } ?? "") } ?? ""
        return "connection \(exchange.number): \(exchange.method) \(target)\(resumed)\(answer)"
    }

    /// A stream name for `path`: `/streams/NAME` keeps NAME; otherwise its last segment's allowed
    /// characters, made unique with a number.
    static func streamName(for path: String, taken: Set<String>) -> String {
        let segments = path.split(separator: "/")
        var base: String
        if segments.count == 2, segments[0] == "streams", (try? StreamName.validate(String(segments[1]))) != nil {
            base = String(segments[1])
        } else {
            base = String((segments.last ?? "").filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }.prefix(40))
            if base.isEmpty { base = "stream" }
        }
        var name = base
        var number = 2
        while taken.contains(name) {
            name = "\(base)-\(number)"
            number += 1
        }
        return name
    }

    /// Whether `value` can follow `=` in an `if` condition as one word.
    static func isConditionValue(_ value: String) -> Bool {
        !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && !"'\"\\#".unicodeScalars.contains($0) }
    }
}

/// Keeps a `CaptureScript` on disk: each `write` replaces the file whole (a temporary file beside it,
/// then `rename(2)`), so the file is always a complete script, whenever the capture stops; writes
/// between exchanges' starts and ends are at most `interval` apart.
///
/// Invariant: once a write fails, `failure` says why and nothing more is written.
struct CaptureFile {
    static let interval = Duration.milliseconds(200)

    let path: String
    var script: CaptureScript
    private(set) var failure: String?
    private var lastWrite = ContinuousClock.now
    private var dirty = false

    /// Creates the file with the script's header; throws with the reason when it cannot be written.
    init(path: String, upstream: String, keepsSecrets: Bool) throws(ToolError) {
        self.path = path
        script = CaptureScript(upstream: upstream, keepsSecrets: keepsSecrets)
        write()
        if let failure { throw ToolError(.ioFailure, "cannot write \(path): \(failure)") }
    }

    /// Adds `event` and writes the file when the event starts or ends an exchange, or when the last
    /// write is `interval` old.
    mutating func add(_ event: ProxyEvent, at now: ContinuousClock.Instant = .now) {
        script.add(event, at: now)
        dirty = true
        switch event {
        case .request, .response, .ended: write()
        case .observed, .problem: if now - lastWrite >= Self.interval { write() }
        }
    }

    /// Writes what is pending (at the end of a capture).
    mutating func finish() { if dirty { write() } }

    private mutating func write() {
        guard failure == nil else { return }
        lastWrite = .now
        dirty = false
        failure = WholeFile.write(script.lines().joined(separator: "\n") + "\n", to: path)
    }
}
