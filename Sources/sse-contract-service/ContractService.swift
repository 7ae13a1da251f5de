// The test service of the public SSE contract-test harness (launchdarkly/sse-contract-tests), so that
// drip's client can be run against that independent suite: the harness asks this service to create
// clients, send them commands, and report what they see through callbacks.
import EventStream
import NIOCore
import NIOHTTP1
import NIOPosix
import SSEClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct ContractService {
    static let capabilities = [
        "bom", "comments", "headers", "last-event-id", "post", "read-timeout", "report", "restart", "event-type-listeners",
        "server-directed-shutdown-request",
    ]

    /// The harness plays a browser's peer, and its large messages run to several megabytes in one
    /// line: the service's client reads with browser-like limits, not drip's interactive 1 MiB default.
    static let streamLimits = EventStreamParser.Limits.browserLike

    static func main() async {
        var port = 8000
        var arguments = CommandLine.arguments.dropFirst()
        while let argument = arguments.popFirst() {
            switch argument {
            case "--port":
                guard let value = arguments.popFirst().flatMap(Int.init), (0...65535).contains(value) else {
                    say("sse-contract-service: --port needs a port number")
                    exit(2)
                }
                port = value
            case "--help", "-h":
                say("usage: sse-contract-service [--port PORT]   (default 8000; 0 picks a free port, printed)")
                exit(0)
            default:
                say("sse-contract-service: unknown argument \(argument.debugDescription); try --help")
                exit(2)
            }
        }
        do {
            try await serve(port: port)
        } catch {
            say("sse-contract-service: \(error)")
            exit(1)
        }
    }

    /// One line on standard output, written at once (a harness reads the port from it through a pipe).
    static func say(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }

    static func serve(port: Int) async throws {
        let registry = ClientRegistry()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        say("sse-contract-service: listening on http://127.0.0.1:\(server.channel.localAddress?.port ?? port)")
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { try? await handle(connection, registry: registry) }
                }
            }
        }
    }

    static func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, registry: ClientRegistry) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body = []
                case .body(let buffer):
                    body += buffer.readableBytesView
                case .end:
                    guard let head else { continue }
                    let response = await route(head, body: String(decoding: body, as: UTF8.self), registry: registry)
                    var headers = HTTPHeaders([("Content-Length", String(response.body.utf8.count))])
                    if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
                    if !response.contentType.isEmpty { headers.add(name: "Content-Type", value: response.contentType) }
                    if let location = response.location { headers.add(name: "Location", value: location) }
                    try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: response.status), headers: headers)))
                    if !response.body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: response.body)))) }
                    try await outbound.write(.end(nil))
                    if response.stopsService {
                        try? await Task.sleep(for: .milliseconds(100))
                        exit(0)
                    }
                    if !head.isKeepAlive { return }
                }
            }
        }
    }

    struct Response {
        var status: Int
        var body = ""
        var contentType = "text/plain"
        var location: String?
        var stopsService = false
    }

    static func route(_ head: HTTPRequestHead, body: String, registry: ClientRegistry) async -> Response {
        let path = String(head.uri.prefix { $0 != "?" })
        switch (head.method, path) {
        case (.GET, "/"):
            let json = JSONValue.object([("name", .string("drip")), ("capabilities", .array(capabilities.map(JSONValue.string)))]).serialized
            return Response(status: 200, body: json, contentType: "application/json")
        case (.DELETE, "/"):
            return Response(status: 204, contentType: "", stopsService: true)
        case (.POST, "/"):
            switch ClientParameters.parse(body) {
            case .failure(let problem): return Response(status: 400, body: problem.description + "\n")
            case .success(let parameters):
                let id = await registry.start(parameters)
                return Response(status: 201, contentType: "", location: "/clients/\(id)")
            }
        case (.POST, _) where path.hasPrefix("/clients/"):
            guard let id = Int(path.dropFirst("/clients/".count)) else { return Response(status: 404, body: "no such client\n") }
            let command: JSONValue
            do { command = try JSONValue(parsing: body) } catch { return Response(status: 400, body: "malformed command: \(error)\n") }
            switch command["command"]?.stringValue {
            case "restart":
                return await registry.restart(id) ? Response(status: 204, contentType: "") : Response(status: 404, body: "no such client\n")
            case "listen":
                guard let type = command["listen"]?["type"]?.stringValue else { return Response(status: 400, body: "listen needs listen.type\n") }
                return await registry.listen(id, type: type)
                    ? Response(status: 204, contentType: "") : Response(status: 404, body: "no such client\n")
            default:
                return Response(status: 400, body: "unknown command \(command["command"]?.serialized ?? "(none)")\n")
            }
        case (.DELETE, _) where path.hasPrefix("/clients/"):
            guard let id = Int(path.dropFirst("/clients/".count)), await registry.stop(id) else {
                return Response(status: 404, body: "no such client\n")
            }
            return Response(status: 204, contentType: "")
        default:
            return Response(status: 404, body: "no such resource \(path)\n")
        }
    }
}

/// The parameters of `POST /`.
struct ClientParameters: Sendable {
    var options: ClientOptions
    var callback: HTTPURL
    var tag: String?

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ text: String) -> Result<ClientParameters, Problem> {
        let json: JSONValue
        do { json = try JSONValue(parsing: text) } catch { return .failure(Problem(description: "malformed JSON: \(error)")) }
        func string(_ key: String) -> Result<String?, Problem> {
            switch json[key] {
            case nil, .null?: .success(nil)
            case .string(let value)?: .success(value)
            case let other?: .failure(Problem(description: "\(key) must be a string, not \(other.serialized)"))
            }
        }
        func milliseconds(_ key: String) -> Result<Int?, Problem> {
            switch json[key] {
            case nil, .null?: return .success(nil)
            case let value?:
                guard let number = value.intValue, number >= 0 else {
                    return .failure(Problem(description: "\(key) must be a whole number, not \(value.serialized)"))
                }
                return .success(number)
            }
        }
        do {
            guard let streamText = try string("streamUrl").get() else { return .failure(Problem(description: "streamUrl is required")) }
            guard let callbackText = try string("callbackUrl").get() else { return .failure(Problem(description: "callbackUrl is required")) }
            let streamURL: HTTPURL
            let callback: HTTPURL
            do {
                streamURL = try HTTPURL(parsing: streamText)
                callback = try HTTPURL(parsing: callbackText)
            } catch {
                return .failure(Problem(description: error.description))
            }
            var headers: [(name: String, value: String)] = []
            if let value = json["headers"], value != .null {
                guard case .object(let members) = value else { return .failure(Problem(description: "headers must be an object")) }
                for (name, headerValue) in members {
                    guard let text = headerValue.stringValue else { return .failure(Problem(description: "header \(name) must be a string")) }
                    headers.append((name, text))
                }
            }
            let body = try string("body").get()
            var request = ClientRequest(
                url: streamURL, method: try string("method").get() ?? "GET", headers: headers, body: body.map { Array($0.utf8) },
                lastEventId: try string("lastEventId").get() ?? "")
            request.method = request.method.uppercased()
            var options = ClientOptions(request: request, retriesInitialConnection: true)
            options.limits = ContractService.streamLimits
            if let delay = try milliseconds("initialDelayMs").get() { options.initialReconnectionTime = .milliseconds(delay) }
            if let timeout = try milliseconds("readTimeoutMs").get() { options.readTimeout = .milliseconds(timeout) }
            return .success(ClientParameters(options: options, callback: callback, tag: try string("tag").get()))
        } catch {
            return .failure(error)
        }
    }
}

/// The clients the harness created, each running in its own task, reporting through callbacks in order.
actor ClientRegistry {
    private struct Entry {
        let task: Task<Void, Never>
        let controller: ClientController
        let listened: Listened
    }

    /// Event types the harness listens to; `message` is always delivered (like `onmessage`).
    final class Listened: Sendable {
        private let types = Mutex<Set<String>>(["message"])
        func add(_ type: String) { _ = types.withLock { $0.insert(type) } }
        func contains(_ type: String) -> Bool { types.withLock { $0.contains(type) } }
    }

    private var entries: [Int: Entry] = [:]
    private var nextID = 1

    func start(_ parameters: ClientParameters) -> Int {
        let id = nextID
        nextID += 1
        let controller = ClientController()
        let listened = Listened()
        let task = Task {
            let callbacks = Callbacks(base: parameters.callback)
            await EventSourceClient.run(parameters.options, controller: controller) { event in
                if let message = Self.message(for: event, listened: listened) { await callbacks.post(message) }
            }
        }
        entries[id] = Entry(task: task, controller: controller, listened: listened)
        return id
    }

    func restart(_ id: Int) -> Bool {
        guard let entry = entries[id] else { return false }
        entry.controller.restart()
        return true
    }

    func listen(_ id: Int, type: String) -> Bool {
        guard let entry = entries[id] else { return false }
        entry.listened.add(type)
        return true
    }

    func stop(_ id: Int) -> Bool {
        guard let entry = entries.removeValue(forKey: id) else { return false }
        entry.task.cancel()
        return true
    }

    static func message(for event: ClientEvent, listened: Listened) -> JSONValue? {
        switch event {
        case .event(let sse):
            guard listened.contains(sse.type) else { return nil }
            var fields: [(key: String, value: JSONValue)] = [("type", .string(sse.type)), ("data", .string(sse.data))]
            if let id = sse.id, !id.isEmpty { fields.append(("id", .string(id))) }
            return .object([("kind", .string("event")), ("event", .object(fields))])
        case .comment(let text):
            return .object([("kind", .string("comment")), ("comment", .string(text))])
        case .reconnecting(_, ClientEvent.restartedOnRequest):
            // The caller asked for the restart: the harness expects the next event, not an error.
            return nil
        case .reconnecting(_, let reason):
            return .object([("kind", .string("error")), ("error", .string(reason))])
        case .closed(let reason, true):
            return .object([("kind", .string("error")), ("error", .string(reason))])
        case .connecting, .open, .refused, .retry, .raw, .closed:
            return nil
        }
    }
}

/// Posts one client's callback messages to `<base>/1`, `<base>/2`, … one after another.
final class Callbacks: Sendable {
    private let base: HTTPURL
    private let counter = Mutex(0)

    init(base: HTTPURL) { self.base = base }

    func post(_ message: JSONValue) async {
        let number = counter.withLock { count -> Int in
            count += 1
            return count
        }
        var target = base
        let path = target.target.prefix { $0 != "?" }
        target.target = (path.hasSuffix("/") ? String(path) : path + "/") + String(number)
        _ = try? await HTTPExchange.send(
            "POST", to: target, headers: [("Content-Type", "application/json")], body: Array(message.serialized.utf8))
    }
}
