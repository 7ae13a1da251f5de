import EventStream
import SSEClient
import SSEServer

/// The embedded server: `serve`, `stop`, `stream`, `emit`, `comment`, `streams` and `history`.
extension Engine {
    func serve(_ command: ParsedCommand) async throws(CommandError) {
        if let serverURL { throw CommandError("serve: a server is already running on \(serverURL); stop it first", column: 1) }
        let (host, port) = try Self.address(command.arguments["address"])
        if let token = command.options.last(where: { $0.name == "token" }), token.value.text.isEmpty {
            throw CommandError("serve: token= is empty; give a token, or leave token= out", column: token.value.column)
        }
        var defaults = StreamSettings()
        if let history = command.integer("history") { defaults.historySize = history }
        if let heartbeat = command.duration("heartbeat") { defaults.heartbeatMilliseconds = heartbeat.milliseconds }
        if let retry = command.duration("retry") { defaults.retryMilliseconds = retry.milliseconds }
        let configuration = ServerConfiguration(
            host: host, port: port, token: command.option("token"), allowedOrigins: command.values(of: "cors"), streamDefaults: defaults,
            tls: try Self.serverTLS(command))
        try await startServer(configuration)
    }

    /// The TLS `serve` asked for: nil without tls=on; a certificate made now, or cert= and key=.
    private static func serverTLS(_ command: ParsedCommand) throws(CommandError) -> ServerTLS? {
        let cert = command.option("cert")
        let key = command.option("key")
        guard command.toggle("tls") == true else {
            if cert != nil || key != nil { throw CommandError("serve: cert= and key= need tls=on", column: 1) }
            return nil
        }
        do throws(ServerError) {
            switch (cert, key) {
            case (nil, nil): return try .generated()
            case (let cert?, let key?): return try .load(certificateFile: cert, keyFile: key)
            default: throw .invalidConfiguration("cert= and key= go together: give both, or neither for a certificate made now")
            }
        } catch {
            throw CommandError("serve: \(error)", column: 1)
        }
    }

    /// Starts the embedded server with `configuration` (`drip serve --script`, whose limits the
    /// `serve` command does not spell); reports the outcome as `serve` does, false when it failed.
    public func serve(_ configuration: ServerConfiguration) async -> Bool {
        do throws(CommandError) {
            if let serverURL { throw CommandError("serve: a server is already running on \(serverURL); stop it first", column: 1) }
            try await startServer(configuration)
            return true
        } catch {
            report(.failure(error), ["error: \(error.message)"])
            return false
        }
    }

    func startServer(_ configuration: ServerConfiguration) async throws(CommandError) {
        let output = self.output
        let directory = self.directory
        let timeline = self.timeline
        let server = SSEServer(configuration: configuration, timeScale: timeScale) { entry in
            if case .listening = entry { return }
            let name = directory.name(for: entry)
            if case .connected(let client, _, _, _) = entry, let name { timeline.add(.serverConnectionOwner(client: client, name: name)) }
            output(.server(entry), ["server: " + entry.description(clientName: name)])
        }
        do {
            let url = SSEServer.url(for: try await server.start(), secure: configuration.tls != nil)
            self.server = server
            serverURL = url
            timeline.add(.event(.server(.listening(url: url))))
            // The viewer page draws the timeline live from GET /timeline, fed from here on.
            timeline.follow { server.publishTimeline($0) }
            report(.info("serving on \(url)"), ["serving on \(url) — streams at \(url)/streams/NAME, viewer at \(url)/"])
            if let tls = configuration.tls { report(.info("tls"), [ServeTool.describe(tls)]) }
        } catch {
            await server.stop()
            throw CommandError("serve: \(error)", column: 1)
        }
        for stream in scenarios.keys.sorted() { try await handConnections(of: stream, on: server) }
        // The viewer page lists the proxies beside the streams.
        let board = proxyBoard
        try? await server.setListingSupplement { board.listing() }
    }

    func stop() async throws(CommandError) {
        guard let server else { throw CommandError("stop: no server is running", column: 1) }
        timeline.follow(nil)
        await server.stop()
        self.server = nil
        serverURL = nil
        report(.info("server stopped"), ["server stopped"])
    }

    func runningServer(_ command: ParsedCommand) throws(CommandError) -> SSEServer {
        guard let server else { throw CommandError("\(command.spec.name): no server is running; start one with 'serve'", column: 1) }
        return server
    }

    func configureStream(_ command: ParsedCommand) async throws(CommandError) {
        let server = try runningServer(command)
        let name = command.argument("stream") ?? ""
        let history = command.integer("history")
        let heartbeat = command.duration("heartbeat")
        let retry = command.duration("retry")
        let initial = try command.option("initial").map { text throws(CommandError) in try dataValue(text, command: command) }
        let initialType = command.option("initial-event")
        let presence = command.toggle("presence")
        let idleTimeout = command.duration("idle-timeout")
        let route = try streamRoute(command, stream: name)
        let settings = try await serverCall(command) {
            try await server.configure(stream: name) { settings in
                if let history { settings.historySize = history }
                if let heartbeat { settings.heartbeatMilliseconds = heartbeat.milliseconds }
                if let retry { settings.retryMilliseconds = retry.milliseconds }
                if let initial { settings.initialEvent = ServerSentEvent(type: initialType ?? ServerSentEvent.defaultType, data: initial) }
                if let presence { settings.announcesViewers = presence }
                if let idleTimeout { settings.idleTimeoutMilliseconds = idleTimeout.milliseconds }
            }
        }
        report(
            .info("stream \(name) configured"),
            [
                "stream \(name): history \(settings.historySize), heartbeat \(settings.heartbeatMilliseconds) ms, retry "
                    + (settings.retryMilliseconds.map { "\($0) ms" } ?? "not announced")
                    + (settings.initialEvent.map { ", initial \($0.type) event" } ?? "")
                    + (settings.announcesViewers ? ", presence on" : "")
                    + (settings.idleTimeoutMilliseconds > 0 ? ", idle timeout \(settings.idleTimeoutMilliseconds) ms" : "")
            ])
        if let route {
            try await serverCall(command) { try await server.route(route) }
            let line = "route: \(route.methods.joined(separator: ",")) \(serverURL ?? "")\(route.path) → stream \(name) (query ignored)"
            report(.info(line), [line])
        }
    }

    /// The route `path=` and `method=` ask for, checked; nil when neither is given.
    private func streamRoute(_ command: ParsedCommand, stream: String) throws(CommandError) -> StreamRoute? {
        let methods = command.option("method").map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: " ") } }
        guard let path = command.option("path") else {
            guard methods == nil else {
                throw CommandError(
                    "stream: method= needs path= (a stream at /streams/NAME answers GET)",
                    column: command.options.first { $0.name == "method" }?.value.column ?? 1)
            }
            return nil
        }
        do throws(ServerError) {
            return try StreamRoute(stream: stream, path: path, methods: methods ?? [])
        } catch {
            throw CommandError("stream: \(error)", column: command.options.last { $0.name == "path" }?.value.column ?? 1)
        }
    }

    /// The stream the command names, which must exist: a typo does not create a stream (only
    /// `stream` does, or a client subscribing); the error suggests the nearest existing name.
    func existingStream(_ command: ParsedCommand, on server: SSEServer) async throws(CommandError) -> String {
        let name = command.argument("stream") ?? ""
        let names = try await serverCall(command) { try await server.snapshot().streams.map(\.name) }
        guard !names.contains(name) else { return name }
        let hint = CommandTable.suggestions(for: name, among: names).first.map { "; did you mean \($0)?" } ?? ""
        let clientHint = clients[name] != nil ? " (\(name) is a client)" : ""
        throw CommandError(
            "\(command.spec.name): no stream named \(name)\(clientHint)\(hint) ('stream \(name)' creates it)",
            column: command.arguments["stream"]?.column ?? 1)
    }

    func emit(_ command: ParsedCommand) async throws(CommandError) {
        let server = try runningServer(command)
        let stream = try await existingStream(command, on: server)
        let event = ServerSentEvent(
            type: command.option("event") ?? ServerSentEvent.defaultType,
            data: try command.option("data").map { text throws(CommandError) in try dataValue(text, command: command) } ?? "",
            id: command.option("id"),
            retry: command.duration("retry")?.milliseconds)
        let target = command.connection ?? command.integer("to")
        let receipt = try await serverCall(command) { try await server.publish(stream: stream, event: event, to: target) }
        let summary =
            "emitted \(event.type)" + (receipt.id.map { " id=\($0)" } ?? "")
            + " to \(stream) → \(receipt.clients) client\(receipt.clients == 1 ? "" : "s")"
        report(.info(summary), quiet ? [] : [summary])
    }

    func comment(_ command: ParsedCommand) async throws(CommandError) {
        let server = try runningServer(command)
        let stream = try await existingStream(command, on: server)
        let text = command.argument("text") ?? ""
        let client = command.connection
        let count = try await serverCall(command) { try await server.comment(stream: stream, text: text, to: client) }
        report(.info("comment to \(stream) → \(count) clients"), quiet ? [] : ["comment to \(stream) → \(count) client\(count == 1 ? "" : "s")"])
    }

    func listStreams() async throws(CommandError) {
        guard let server else { return report(.info("no server"), ["no server is running; start one with 'serve'"]) }
        let snapshot = try await serverCall("streams") { try await server.snapshot() }
        guard !snapshot.streams.isEmpty else { return report(.info("no streams"), ["no streams yet; they are created on first use"]) }
        let rows = snapshot.streams.map { stream in
            [
                stream.name, stream.route.map { "\($0.methods.joined(separator: ",")) \($0.path)" } ?? "", String(stream.clients.count),
                String(stream.historyCount), stream.lastId ?? "",
                stream.clients.map { $0.transport == .plain ? "\($0.id) \($0.remote)" : "\($0.id) \($0.remote) \($0.transport)" }.joined(
                    separator: ", "),
            ]
        }
        report(.info("streams"), Self.table(["stream", "route", "clients", "history", "last id", "subscribers (id remote)"], rows))
    }

    func history(_ command: ParsedCommand) async throws(CommandError) {
        let server = try runningServer(command)
        let stream = try await existingStream(command, on: server)
        let events = try await serverCall(command) { try await server.history(stream: stream) }
        guard !events.isEmpty else { return report(.info("empty history"), ["\(stream): no events in history"]) }
        report(.info("history"), Self.table(["id", "type", "data"], events.map { [$0.id ?? "", $0.type, $0.data.debugDescription] }))
    }

    /// `host:port`, `:port`, `port` or nothing (127.0.0.1, any free port).
    static func address(_ word: Word?) throws(CommandError) -> (String, Int) {
        guard let text = word?.text, !text.isEmpty else { return ("127.0.0.1", 0) }
        let column = word?.column ?? 1
        let host: Substring
        let portText: Substring
        if let colon = text.lastIndex(of: ":") {
            host = text[..<colon].isEmpty ? "127.0.0.1" : text[..<colon]
            portText = text[text.index(after: colon)...]
        } else if text.allSatisfy(\.isNumber) {
            host = "127.0.0.1"
            portText = Substring(text)
        } else {
            host = Substring(text)
            portText = "0"
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw CommandError("serve: '\(text)' is not an address (HOST:PORT, :PORT or PORT; port 0 picks a free one)", column: column)
        }
        let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? host.dropFirst().dropLast() : host
        return (String(bareHost), port)
    }
}
