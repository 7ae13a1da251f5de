import EventStream
import SSEClient
import SSEServer

/// Where a named client stands, as `clients` and `status` list it.
enum ClientState: String, Sendable {
    /// Sending its request, or waiting to reconnect.
    case connecting
    case open
    /// Ended by the user, a 204, or a run that finished.
    case closed
    /// Ended for good by an error (a status, a wrong content type, retries exhausted).
    case failed

    /// Closed or failed: its name may be taken again.
    var hasEnded: Bool { self == .closed || self == .failed }
}

/// Named clients: `connect`, `close`, `cut`, `clients`, and the one-shot `post`.
extension Engine {
    func connect(_ command: ParsedCommand) async throws(CommandError) {
        let name = command.argument("client") ?? ""
        if let existing = clients[name], !existing.state.hasEnded {
            throw CommandError("connect: a client named \(name) is \(existing.state); close it first or pick another name", column: 9)
        }
        let urlText: String
        let given = command.argument("url") ?? name
        if let via = command.option("via") {
            guard let proxy = proxies[via] else { throw unknownProxy(via, command) }
            guard !given.contains("://") else {
                throw CommandError(
                    "connect: via=\(via) takes a path (/events) or a stream name, not a URL", column: command.arguments["url"]?.column ?? 1)
            }
            urlText = proxy.url + (given.hasPrefix("/") ? given : "/streams/\(given)")
        } else if given.contains("://") {
            urlText = given
        } else if given.hasPrefix("/"), let serverURL {
            urlText = serverURL + given
        } else if let serverURL {
            urlText = "\(serverURL)/streams/\(given)"
        } else {
            throw CommandError(
                "connect: give a URL, or start a server with 'serve' to connect to its stream \(given)", column: command.arguments["url"]?.column ?? 1
            )
        }
        let url: HTTPURL
        do { url = try HTTPURL(parsing: urlText) } catch { throw CommandError("connect: \(error)", column: command.arguments["url"]?.column ?? 1) }
        let body = try command.option("body").map { text throws(CommandError) in Array(try dataValue(text, command: command).utf8) }
        let headers = try Self.headers(command)
        var options = ClientOptions(
            request: ClientRequest(
                url: url, method: (command.option("method") ?? (body == nil ? "GET" : "POST")).uppercased(), headers: headers, body: body,
                lastEventId: command.option("last-event-id") ?? ""),
            policy: ReconnectPolicy(
                backoffMultiplier: command.option("backoff").flatMap(Double.init) ?? 1, jitter: command.option("jitter").flatMap(Double.init) ?? 0,
                maxAttempts: command.integer("max-retries")),
            reconnects: command.toggle("reconnect") ?? true,
            readTimeout: command.duration("read-timeout")?.duration,
            reportsRawBytes: true
        )
        do { try options.request.validate() } catch { throw CommandError("connect: \(error)", column: 1) }
        options.timeScale = timeScale
        options.tls = TLSOptions(trustedCertificateFiles: command.values(of: "cacert"), verifiesCertificates: !(command.toggle("insecure") ?? false))
        options.httpVersion = command.option("http").map { $0 == "2" ? .http2 : $0 == "1.1" ? .http1 : .any } ?? .any
        options.tls = trustingOwnServer(options.tls)
        let controller = ClientController()
        directory.add(name, controller)
        let task = Task { [weak self] in
            await EventSourceClient.run(options, controller: controller) { event in
                await self?.clientSaw(name, event)
            }
            await self?.clientEnded(name)
        }
        clients[name] = ClientHandle(
            url: urlText, task: task, controller: controller, eventTypes: Set(command.values(of: "event")), pretty: command.toggle("pretty") ?? false)
    }

    func clientSaw(_ name: String, _ event: ClientEvent) {
        if var handle = clients[name] {
            if case .raw = event {} else { handle.seen.append(event) }
            recorder?.saw(event, client: name)
            switch event {
            case .connecting, .reconnecting: handle.state = .connecting
            case .open: handle.state = .open
            case .closed(_, let isFailure): handle.state = isFailure ? .failed : .closed
            case .event(let sse):
                handle.received += 1
                handle.lastEventId = sse.id ?? ""
            case .comment, .retry, .raw, .refused: break
            }
            clients[name] = handle
        }
        var clientStyle = style
        clientStyle.timestamps = false  // the output stamps every line
        clientStyle.eventTypes = clients[name]?.eventTypes ?? []
        clientStyle.prettyJSON = clients[name]?.pretty ?? false
        let lines = quiet && !Self.isStateChange(event) ? [] : clientStyle.lines(for: event).map { "\(name): \($0)" }
        report(.client(name: name, event: event), lines)
    }

    /// A client whose run ended stays listed (closed or failed, with its counts) until `close`.
    func clientEnded(_ name: String) {
        guard var handle = clients[name], handle.state != .failed else { return }
        handle.state = .closed
        clients[name] = handle
    }

    static func isStateChange(_ event: ClientEvent) -> Bool {
        switch event {
        case .connecting, .open, .reconnecting, .closed: true
        default: false
        }
    }

    func close(_ command: ParsedCommand) async throws(CommandError) {
        let name = command.argument("client") ?? ""
        if proxies[name] != nil { return await closeProxy(name) }
        guard let handle = clients[name] else { throw unknownClient(name, command) }
        handle.task.cancel()
        await handle.task.value
        clients[name] = nil
        directory.remove(name)
    }

    func cut(_ command: ParsedCommand) throws(CommandError) {
        let name = command.argument("client") ?? ""
        guard let handle = clients[name] else { throw unknownClient(name, command) }
        handle.controller.restart()
        report(.info("cut \(name)"), ["\(name): connection cut from the client side"])
    }

    /// `tls` that also trusts the embedded server's certificate when it serves TLS: the one it made
    /// at start is self-signed, and only this process holds its key, so trusting it lets the REPL's
    /// own `connect`, `post` and `check` reach `serve tls=on` and vouches for nothing else.
    func trustingOwnServer(_ tls: TLSOptions) -> TLSOptions {
        guard let serverTLS = server?.configuration.tls else { return tls }
        var trusting = tls
        trusting.trustedCertificates += serverTLS.certificateChain
        return trusting
    }

    func post(_ command: ParsedCommand) async throws(CommandError) {
        let given = command.argument("url") ?? ""
        let urlText: String
        if given.hasPrefix("/") {
            guard let serverURL else { throw CommandError("post: \(given) is a path on the embedded server, but none is running", column: 6) }
            urlText = serverURL + given
        } else {
            urlText = given
        }
        let url: HTTPURL
        do { url = try HTTPURL(parsing: urlText) } catch { throw CommandError("post: \(error)", column: 6) }
        let body = try command.option("body").map { text throws(CommandError) in Array(try dataValue(text, command: command).utf8) } ?? []
        let headers = try Self.headers(command)
        let method = (command.option("method") ?? "POST").uppercased()
        do { _ = try RequestHead(method: method, url: url, headers: headers) } catch { throw CommandError("post: \(error)", column: 1) }
        var limits = HTTPExchange.Limits()
        if let size = command.option("max-response").flatMap(ByteSize.init(parsing:)) { limits.maxResponseSize = size.bytes }
        if let timeout = command.duration("timeout") { limits.timeout = timeScale.wall(timeout.duration) }
        let response: HTTPExchange.Response
        let tls = trustingOwnServer(TLSOptions())
        do { response = try await HTTPExchange.send(method, to: url, headers: headers, body: body, limits: limits, tls: tls) } catch {
            throw CommandError("post: \(url): \(EventSourceClient.describeError(error))", column: 6)
        }
        let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: "\n")
        let line = "\(method) \(urlText) → \(response.status)" + (text.isEmpty ? "" : ": \(text)")
        if let expected = command.integer("status") {
            let summary = Self.withoutComment(command.line)
            let passed = response.status == expected
            return report(
                .expectation(passed: passed, summary: summary, detail: passed ? "" : "answered \(response.status)"),
                passed ? (quiet ? [] : ["✓ \(line)"]) : ["✗ \(summary): answered \(response.status)"])
        }
        guard (200..<300).contains(response.status) else { throw CommandError("post: \(line)", column: 1) }
        report(.info(line), quiet ? [] : [line])
    }

    static func headers(_ command: ParsedCommand) throws(CommandError) -> [(name: String, value: String)] {
        try command.values(of: "header").map { header throws(CommandError) -> (name: String, value: String) in
            do { return try RequestHead.header(parsing: header) } catch {
                throw CommandError(
                    "\(command.spec.name): \(error)",
                    column: command.options.last { $0.name == "header" && $0.value.text == header }?.value.column ?? 1)
            }
        }
    }

    func unknownClient(_ name: String, _ command: ParsedCommand) -> CommandError {
        let hint = CommandTable.suggestions(for: name, among: Array(clients.keys)).first.map { "; did you mean \($0)?" } ?? ""
        return CommandError("\(command.spec.name): no client named \(name)\(hint)", column: command.arguments["client"]?.column ?? 1)
    }

    func listClients() {
        guard !clients.isEmpty else { return report(.info("no clients"), ["no clients; open one with 'connect NAME URL'"]) }
        let rows = clients.keys.sorted().compactMap { name in
            clients[name].map { [name, $0.state.rawValue, String($0.received), $0.lastEventId, $0.url] }
        }
        report(.info("clients"), Self.table(["client", "state", "events", "last id", "url"], rows))
    }
}
