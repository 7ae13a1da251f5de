import EventStream
import SSEClient
import SSEProxy
import SSEServer

/// Named proxies: `proxy`, closing one, the faults that act on a proxy's streams, and what passed
/// through one (for `expect`). A proxy's name shares the namespace of clients: `expect NAME` reads
/// whichever it is.
extension Engine {
    /// A running proxy: its server, where it listens, and what passed through it as a client would
    /// have seen it (the exchanges' requests, answers, events and ends, in order).
    struct ProxyHandle {
        let server: ProxyServer
        let url: String
        let upstream: String
        let reader: Task<Void, Never>
        var seen = SeenLog()
        /// Exchanges whose answer is an event stream (their end is a `closed` for expectations).
        var streams: Set<Int> = []
        /// The mock-server script written as traffic passes (`capture=FILE`).
        var capture: CaptureFile?
    }

    func startProxy(_ command: ParsedCommand) async throws(CommandError) {
        let name = command.argument("proxy") ?? ""
        if proxies[name] != nil { throw CommandError("proxy: a proxy named \(name) is running; close it first or pick another name", column: 7) }
        if let client = clients[name], !client.state.hasEnded {
            throw CommandError("proxy: \(name) is the name of a client; pick another", column: 7)
        }
        let upstreamColumn = command.arguments["upstream"]?.column ?? 1
        guard let upstreamText = command.argument("upstream") ?? serverURL else {
            throw CommandError("proxy: give the upstream URL, or start a server with 'serve' to proxy it", column: upstreamColumn)
        }
        let upstream: HTTPURL
        do { upstream = try HTTPURL(parsing: upstreamText) } catch { throw CommandError("proxy: \(error)", column: upstreamColumn) }
        let (host, port) = try listenAddress(command)
        var capture: CaptureFile?
        if let path = command.option("capture") {
            do throws(ToolError) {
                capture = try CaptureFile(path: path, upstream: upstream.description, keepsSecrets: command.toggle("secrets") ?? false)
            } catch {
                throw CommandError("proxy: \(error.message)", column: command.options.last { $0.name == "capture" }?.value.column ?? 1)
            }
        }
        let (events, sink) = AsyncStream.makeStream(of: ProxyEvent.self)
        let server: ProxyServer
        let bound: Int
        do throws(ProxyError) {
            server = try ProxyServer(
                upstream: upstream, host: host, port: port,
                tls: TLSOptions(trustedCertificateFiles: command.values(of: "cacert"), verifiesCertificates: !(command.toggle("insecure") ?? false))
            ) { sink.yield($0) }
            bound = try await server.start()
        } catch {
            sink.finish()
            throw CommandError("proxy: \(error)", column: 1)
        }
        // One reader per proxy, so that what it reports reaches the engine in the order it happened.
        let reader = Task { [weak self] in
            for await event in events { await self?.proxySaw(name, event) }
        }
        let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(bound)"
        proxies[name] = ProxyHandle(server: server, url: url, upstream: upstream.description, reader: reader, capture: capture)
        proxyBoard.add(name, url: url, upstream: upstream.description)
        var lines = ["proxy \(name): \(url) → \(upstream); point a client at it (connect c1 /path via=\(name))"]
        if let capture { lines.append("proxy \(name): capturing a mock of the upstream in \(capture.path) (drip serve --script \(capture.path))") }
        report(.info("proxy \(name)"), lines)
    }

    func listenAddress(_ command: ParsedCommand) throws(CommandError) -> (host: String, port: Int) {
        guard let text = command.option("listen") else { return ("127.0.0.1", 0) }
        let column = command.options.last { $0.name == "listen" }?.value.column ?? 1
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw CommandError("\(command.spec.name): listen=\(text) is not HOST:PORT (a port from 0 to 65535)", column: column)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    func proxySaw(_ name: String, _ event: ProxyEvent) {
        guard var handle = proxies[name] else { return }
        proxyBoard.saw(event, proxy: name)
        for seen in Self.clientEvents(for: event, streams: &handle.streams) { handle.seen.append(seen) }
        let captureFailed = handle.capture?.failure
        handle.capture?.add(event)
        proxies[name] = handle
        if captureFailed == nil, let failure = handle.capture?.failure, let path = handle.capture?.path {
            report(
                .failure(CommandError("proxy \(name): the capture stopped: cannot write \(path): \(failure)", column: 1)),
                [
                    "error: proxy \(name): the capture stopped: cannot write \(path): \(failure)"
                ])
        }
        var proxyStyle = style
        proxyStyle.timestamps = false  // the output stamps every line
        let lines = ProxyOutput(style: proxyStyle, name: name).lines(for: event)
        report(.proxy(name: name, event: event), quiet && !Self.isStateChange(event) ? [] : lines)
    }

    /// What `event` looks like to `expect`: the events a client of the exchange received (skipped ones
    /// not, duplicated ones twice), its request as a connection (with the Last-Event-ID it carried),
    /// an event stream's answer as `open`, any other answer as a failure with its status.
    static func clientEvents(for event: ProxyEvent, streams: inout Set<Int>) -> [ClientEvent] {
        switch event {
        case .request(_, let method, let target, let headers):
            return [.connecting(url: target, method: method, lastEventId: headers.first { $0.name.lowercased() == "last-event-id" }?.value)]
        case .response(let number, let status, let reason, _, let isEventStream, _):
            guard isEventStream, status == 200 else { return [.closed(reason: "HTTP \(status) \(reason)", isFailure: status >= 300)] }
            streams.insert(number)
            return [.open(status: status)]
        case .observed(_, .event(let sse, let fate)):
            return fate == .skipped ? [] : Array(repeating: .event(sse), count: fate == .duplicated ? 2 : 1)
        case .observed(_, .comment(let text)): return [.comment(text)]
        case .observed(_, .retry(let milliseconds)): return [.retry(milliseconds)]
        case .observed: return []
        case .ended(let number, let reason, _):
            return streams.remove(number) == nil ? [] : [.closed(reason: reason, isFailure: false)]
        case .problem: return []
        }
    }

    static func isStateChange(_ event: ProxyEvent) -> Bool {
        switch event {
        case .request, .response, .ended, .problem: true
        case .observed: false
        }
    }

    func closeProxy(_ name: String) async {
        guard var handle = proxies.removeValue(forKey: name) else { return }
        proxyBoard.remove(name)
        await handle.server.stop()
        handle.reader.cancel()
        handle.capture?.finish()
        report(.info("proxy \(name) closed"), ["proxy \(name): closed"])
    }

    // MARK: faults on a proxy

    /// Runs a fault command aimed at a proxy; false when `command` names no proxy (it is a stream's).
    func proxyFault(_ command: ParsedCommand) async throws(CommandError) -> Bool {
        let name = command.argument("stream") ?? command.argument("proxy") ?? ""
        guard let handle = proxies[name] else {
            guard [.skip, .duplicate, .rewrite].contains(command.name) else { return false }
            throw unknownProxy(name, command)
        }
        if let client = command.options.last(where: { $0.name == "client" }) {
            throw CommandError(
                "\(command.spec.name): client= picks a client of a stream; on a proxy, conn=N picks an exchange", column: client.value.column)
        }
        let connection = command.integer("conn")
        let who = connection.map { "\(name)#\($0)" } ?? name
        let rejection = command.name == .reject ? try rejection(from: command) : nil
        var faults = RelayFaults()
        var result: String
        do throws(ProxyError) {
            switch command.name {
            case .drop:
                let mode = command.option("mode").flatMap(DropMode.init(rawValue:)) ?? .clean
                if let after = command.integer("after") {
                    faults.dropAfter = .init(events: after, mode: mode)
                    result = "\(who): dropped (\(mode.rawValue)) after \(after) more event\(after == 1 ? "" : "s")"
                } else {
                    try await handle.server.drop(mode, connection: connection)
                    result = "\(who): open connections dropped (\(mode.rawValue))"
                }
            case .skip:
                faults.skip = command.integer("count") ?? 1
                result = "\(who): the next \(faults.skip) event\(faults.skip == 1 ? "" : "s") will be swallowed"
            case .duplicate:
                faults.duplicate = command.integer("count") ?? 1
                result = "\(who): the next \(faults.duplicate) event\(faults.duplicate == 1 ? "" : "s") will be written twice"
            case .rewrite:
                faults.rewriteRetry = command.duration("retry")?.milliseconds
                faults.stripsIds = command.toggle("id") == false
                guard faults.rewriteRetry != nil || faults.stripsIds else {
                    throw .outOfRange("rewrite needs retry=DURATION or id=off")
                }
                result =
                    "\(who): "
                    + [faults.rewriteRetry.map { "retry rewritten to \($0) ms" }, faults.stripsIds ? "ids left out" : nil]
                    .compactMap { $0 }.joined(separator: ", ")
            case .reject:
                let count = command.integer("count") ?? 1
                if let rejection { try handle.server.reject(rejection, count: count) }
                result =
                    "\(name): the next \(count == 1 ? "request gets" : "\(count) requests get") \(command.argument("status") ?? "") from the proxy"
            case .stall:
                let duration = command.duration("duration") ?? DurationValue(clampingMilliseconds: 0)
                try await handle.server.stall(for: duration.duration, connection: connection)
                result = "\(who): stalled for \(duration)"
            case .delay:
                let duration = command.duration("duration") ?? DurationValue(clampingMilliseconds: 0)
                try await handle.server.delay(by: duration.milliseconds == 0 ? nil : duration.duration, connection: connection)
                result = duration.milliseconds == 0 ? "\(who): no added latency" : "\(who): each read delayed by \(duration)"
            case .chunk:
                let size = try chunkSizeForProxy(command)
                try await handle.server.chunk(
                    size: size, interval: command.duration("interval")?.duration ?? .milliseconds(10), connection: connection)
                result = size.map { "\(who): written in \($0)-byte pieces" } ?? "\(who): whole reads again"
            case .corrupt:
                faults.corruptions = [corruption(from: command)]
                result = "\(who): the next event will be malformed (\(command.argument("kind") ?? ""))"
            default:
                return false
            }
            if faults != RelayFaults() { try await handle.server.addFaults(faults, connection: connection) }
        } catch {
            throw CommandError("\(command.spec.name): \(error)", column: 1)
        }
        report(.info("\(command.spec.name) \(name)"), [result])
        return true
    }

    /// `chunkSize(from:)`, its error turned into the proxy's.
    private func chunkSizeForProxy(_ command: ParsedCommand) throws(ProxyError) -> Int? {
        do throws(CommandError) { return try chunkSize(from: command) } catch { throw .outOfRange(error.message) }
    }

    func unknownProxy(_ name: String, _ command: ParsedCommand) -> CommandError {
        let hint = CommandTable.suggestions(for: name, among: Array(proxies.keys)).first.map { "; did you mean \($0)?" } ?? ""
        return CommandError("\(command.spec.name): no proxy named \(name)\(hint)", column: command.arguments["proxy"]?.column ?? 1)
    }
}

/// The longer help of `proxy` (`help proxy`, drip-script(5)).
enum ProxyHelp {
    static let proxy = """
        proxy NAME UPSTREAM listens on a port of its own (printed; listen=HOST:PORT to choose) and forwards every
        request to UPSTREAM, its path after UPSTREAM's own; answers come back as they arrive, event streams read by
        read. Each exchange is numbered (p1#1, p1#2, …) and shown as a client's stream is: → the request (with its
        Last-Event-ID), ← the answer, each event, comment and retry, and how it ended. Without UPSTREAM it stands in
        front of the embedded server. connect c1 /path via=p1 opens a client through it; a browser or any client
        can be pointed at its URL.
        Faults on a proxy act on what the client receives: drop p1 [mode=] [after=N] (now, or right after N more
        events), skip p1 [count=N] (swallowed), duplicate p1 [count=N], rewrite p1 retry=D | id=off, and
        reject p1 STATUS [count=N] (answered without asking the upstream). conn=N aims at one exchange; faults given
        while no stream is open wait for the next one. expect p1 … checks what passed through, as expect c1 checks
        what a client saw: events, opened, closed, and reconnected last-event-id=X for a request that carried it.
        close p1 stops it.
        """
}
