import EventStream
import Foundation
import NIOCore
import NIOPosix
import SSEClient
import SSEServer
import Synchronization
import TestSupport
import Testing

/// `drip serve --tls` over HTTP/2, read by the client's own HTTP/2 (one stream per connection) and
/// by several streams on one connection (`HTTP2Connection`), where the two drop modes differ.
@Suite("HTTP/2 and TLS: server and client", .serialized)
struct HTTP2Tests {
    /// A server with a certificate made now, and client options that trust it.
    func withServer(
        limits: ServerLimits = ServerLimits(), log: (@Sendable (ServerLogEntry) -> Void)? = nil,
        _ body: (SSEServer, String, ClientOptions) async throws -> Void
    ) async throws {
        let tls = try ServerTLS.generated()
        let server = SSEServer(configuration: ServerConfiguration(limits: limits, tls: tls), log: log ?? { _ in })
        let address = try await server.start()
        let base = SSEServer.url(for: address, secure: true)
        var options = ClientOptions(request: ClientRequest(url: try HTTPURL(parsing: base + "/streams/s")))
        options.tls = TLSOptions(usesSystemTrustRoots: false)
        options.tls.trustedCertificates = tls.certificateChain
        options.httpVersion = .http2
        do {
            try await body(server, base, options)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("an h2 stream gets events, and after a stream reset resumes with Last-Event-ID: each event once")
    func resumes() async throws {
        try await withServer { server, _, options in
            let seen = Mutex<[ClientEvent]>([])
            let client = Task { await EventSourceClient.run(options) { event in seen.withLock { $0.append(event) } } }
            defer { client.cancel() }
            try await waitForClients(server, 1)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "one", id: "1"))
            try await server.publish(stream: "s", event: ServerSentEvent(data: "two", id: "2"))
            try await waitFor { seen.withLock { $0.events.count } == 2 }
            #expect(try await server.drop(.stream("s"), mode: .stream) == 1)
            try await waitFor { seen.withLock { $0.contains(.connecting(url: options.request.url.description, method: "GET", lastEventId: "2")) } }
            try await waitForClients(server, 1)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "three", id: "3"))
            try await waitFor { seen.withLock { $0.events.count } == 3 }
            #expect(seen.withLock { $0.events.map(\.data) } == ["one", "two", "three"])
        }
    }

    @Test("drop mode=stream resets one stream; its sibling on the same connection goes on")
    func streamReset() async throws {
        try await withTwoStreams { server, connection, first, second in
            let clients = try #require(try await server.snapshot().streams.first?.clients)
            // Both are HTTP/2 streams of one connection: one remote address, two stream ids.
            #expect(Set(clients.map(\.transport.description)) == ["h2 stream 1", "h2 stream 3"])
            #expect(Set(clients.map(\.remote)).count == 1)
            let victim = try #require(clients.map(\.id).min())
            #expect(try await server.drop(.client(victim), mode: .stream) == 1)
            try await waitFor { first.ending != nil || second.ending != nil }
            try await server.publish(stream: "s", event: ServerSentEvent(data: "after"))
            let (broken, alive) = first.ending != nil ? (first, second) : (second, first)
            try await waitFor { alive.text.contains("data: after") }
            #expect(broken.ending?.contains("reset") == true || broken.ending?.contains("Closed") == true, "\(broken.ending ?? "")")
            #expect(!broken.text.contains("data: after"))
            #expect(alive.ending == nil)
            #expect(connection.channel.isActive)
        }
    }

    @Test("drop mode=clean ends the stream with END_STREAM (the body's end), not a reset")
    func cleanEnd() async throws {
        try await withServer { server, base, options in
            let connection = try await connect(base, options)
            defer { connection.channel.close(promise: nil) }
            let stream = try await H2Exchange(on: connection, H2Exchange.subscribe)
            try await waitForClients(server, 1)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "last", id: "1"))
            try await waitFor { stream.text.contains("data: last") }
            #expect(try await server.drop(.stream("s"), mode: .clean) == 1)
            try await waitFor { stream.ending != nil }
            #expect(stream.ending == "end")
            #expect(stream.text.hasSuffix("0\r\n\r\n"), "\(stream.text.suffix(20).debugDescription)")
            #expect(stream.text.contains("content-type: text/event-stream") || stream.text.contains("Content-Type: text/event-stream"))
        }
    }

    @Test("drop mode=connection (GOAWAY and close) breaks every stream of the connection at once")
    func connectionClose() async throws {
        try await withTwoStreams { server, connection, first, second in
            let one = try #require(try await server.snapshot().streams.first?.clients.map(\.id).min())
            #expect(try await server.drop(.client(one), mode: .connection) == 1)
            try await waitFor { first.ending != nil && second.ending != nil }
            try await connection.channel.closeFuture.get()
            try await waitForClients(server, 0)
        }
    }

    @Test("stall on one stream holds it alone; its sibling on the connection gets the event at once")
    func stallOneStream() async throws {
        try await withTwoStreams { server, connection, first, second in
            let clients = try #require(try await server.snapshot().streams.first?.clients.map(\.id).sorted())
            try await server.stall(.client(clients[0]), for: .seconds(30))
            try await server.publish(stream: "s", event: ServerSentEvent(data: "now"))
            try await waitFor { first.text.contains("data: now") || second.text.contains("data: now") }
            #expect(first.text.contains("data: now") != second.text.contains("data: now"), "exactly one stream got it")
        }
    }

    @Test("token and CORS over h2: refused without the token, answered with it and with the allowed origin")
    func tokenAndCORS() async throws {
        let tls = try ServerTLS.generated()
        let server = SSEServer(configuration: ServerConfiguration(token: "sesame", allowedOrigins: ["https://app.example"], tls: tls))
        let base = SSEServer.url(for: try await server.start(), secure: true)
        var options = ClientOptions(request: ClientRequest(url: try HTTPURL(parsing: base)))
        options.tls = TLSOptions(usesSystemTrustRoots: false)
        options.tls.trustedCertificates = tls.certificateChain
        let connection = try await connect(base, options)
        let refused = try await H2Exchange(on: connection, "GET /streams HTTP/1.1\r\nHost: x\r\n\r\n")
        let allowed = try await H2Exchange(
            on: connection, "GET /streams HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sesame\r\nOrigin: https://app.example\r\n\r\n")
        try await waitFor { refused.ending != nil && allowed.ending != nil }
        #expect(refused.text.hasPrefix("HTTP/1.1 401"), "\(refused.text)")
        #expect(allowed.text.hasPrefix("HTTP/1.1 200"), "\(allowed.text)")
        #expect(allowed.text.lowercased().contains("access-control-allow-origin: https://app.example"))
        connection.channel.close(promise: nil)
        await server.stop()
    }

    @Test("a POST publish over h2 is answered and reaches a subscriber")
    func publishOverHTTP2() async throws {
        try await withServer { server, base, options in
            let connection = try await connect(base, options)
            defer { connection.channel.close(promise: nil) }
            let subscriber = try await H2Exchange(on: connection, H2Exchange.subscribe)
            try await waitForClients(server, 1)
            let publish = try await H2Exchange(
                on: connection, "POST /streams/s?event=note&id=9 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            try await waitFor { publish.ending != nil }
            #expect(publish.text.hasPrefix("HTTP/1.1 200"), "\(publish.text)")
            #expect(publish.text.contains(#"{"id":"9","clients":1}"#))
            #expect(publish.ending == "end")
            try await waitFor { subscriber.text.contains("id: 9\nevent: note\ndata: hello\n\n") }
        }
    }

    @Test("a stream whose reader stops is dropped as too slow (logged); its sibling gets everything")
    func slowReader() async throws {
        let limits = ServerLimits(maxQueuedBytes: 256 << 10)
        let reasons = Reasons()
        try await withServer(
            limits: limits,
            log: { entry in
                if case .disconnected(_, _, let reason) = entry { reasons.lock.withLock { $0.append(reason) } }
            }
        ) { server, base, options in
            let connection = try await connect(base, options)
            defer { connection.channel.close(promise: nil) }
            let stalled = try await H2Exchange(on: connection, H2Exchange.subscribe, reads: false)
            let reader = try await H2Exchange(on: connection, H2Exchange.subscribe)
            try await waitForClients(server, 2)
            let data = String(repeating: "x", count: 10_000)
            // 400 events of 10 kB: far past the stalled stream's window (1 MiB) and the 256 KiB limit,
            // in batches the reader keeps up with.
            for batch in 0..<20 {
                for number in batch * 20 + 1...batch * 20 + 20 {
                    try await server.publish(stream: "s", event: ServerSentEvent(data: data, id: "\(number)"))
                }
                try await waitFor { reader.text.contains("id: \(batch * 20 + 20)\n") }
            }
            try await waitForClients(server, 1)
            #expect(reader.ending == nil)
            #expect(reasons.lock.withLock { $0 }.contains { $0.contains("too slow") }, "\(reasons.lock.withLock { $0 })")
            _ = stalled
        }
    }

    @Test("a connection that never starts its TLS handshake is closed after the head timeout, logged")
    func silentTLSConnection() async throws {
        let reasons = Reasons()
        var limits = ServerLimits()
        limits.requestHeadTimeoutMilliseconds = 200
        try await withServer(
            limits: limits,
            log: { entry in
                if case .requestError(_, 408, let reason) = entry { reasons.lock.withLock { $0.append(reason) } }
            }
        ) { _, base, _ in
            let port = try #require(Int(base.split(separator: ":").last ?? ""))
            let silent = try RawConnection(port: port)
            // Waits up to 20 s: the close comes 200 ms in, whatever the machine's load.
            #expect(silent.read(timeout: 20) == .end)
            #expect(reasons.lock.withLock { $0 } == ["no TLS handshake within 200 ms; closed"])
        }
    }

    @Test("a client that does not trust the certificate is refused with a TLS error")
    func untrusted() async throws {
        try await withServer { _, _, options in
            var untrusting = options
            untrusting.tls = TLSOptions(usesSystemTrustRoots: false)
            untrusting.reconnects = false
            var seen: [ClientEvent] = []
            await EventSourceClient.run(untrusting) { seen.append($0) }
            guard case .closed(let reason, true)? = seen.last else { throw TestFailure("not a failure: \(seen)") }
            #expect(reason.contains("TLS failed"), "\(reason)")
        }
    }

    @Test("--http1.1 over https reads the same stream over HTTP/1.1")
    func http1OverTLS() async throws {
        try await withServer { server, _, options in
            var http1 = options
            http1.httpVersion = .http1
            let seen = Mutex<[ClientEvent]>([])
            let client = Task { await EventSourceClient.run(http1) { event in seen.withLock { $0.append(event) } } }
            defer { client.cancel() }
            try await waitForClients(server, 1)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "one", id: "1"))
            try await waitFor { seen.withLock { $0.events.count } == 1 }
        }
    }

    /// A server, one HTTP/2 connection to it and two subscribers on it (streams 1 and 3), subscribed.
    func withTwoStreams(_ body: (SSEServer, HTTP2Connection, H2Exchange, H2Exchange) async throws -> Void) async throws {
        try await withServer { server, base, options in
            let connection = try await connect(base, options)
            defer { connection.channel.close(promise: nil) }
            let first = try await H2Exchange(on: connection, H2Exchange.subscribe)
            let second = try await H2Exchange(on: connection, H2Exchange.subscribe)
            try await waitForClients(server, 2)
            try await body(server, connection, first, second)
        }
    }

    func connect(_ base: String, _ options: ClientOptions) async throws -> HTTP2Connection {
        try await HTTP2Connection.connect(to: try HTTPURL(parsing: base), options: options, group: MultiThreadedEventLoopGroup.singleton)
    }

    func waitForClients(_ server: SSEServer, _ count: Int) async throws {
        try await waitFor { (try? await server.snapshot().streams.first?.clients.count ?? 0) == count }
    }

    /// Polls `condition` every 20 ms for up to 20 s (generous: a busy machine is slow, never wrong).
    func waitFor(_ condition: () async throws -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for _ in 0..<1000 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("condition not met within 20 s", sourceLocation: sourceLocation)
        throw TestFailure("timed out")
    }
}

final class Reasons: Sendable {
    let lock = Mutex<[String]>([])
}

/// One request on a stream of an `HTTP2Connection`, its answer collected as HTTP/1.1 text (as the
/// client's adapter presents it) and how the stream ended: "end", or the error that broke it.
final class H2Exchange: Sendable {
    private final class Seen: Sendable {
        let lock = Mutex<(text: String, ending: String?)>(("", nil))
    }
    private let seen = Seen()
    private let task: Task<Void, Never>

    var text: String { seen.lock.withLock { $0.text } }
    var ending: String? { seen.lock.withLock { $0.ending } }

    static let subscribe = "GET /streams/s HTTP/1.1\r\nHost: x\r\n\r\n"

    /// `reads: false` never reads the answer: a reader that stopped.
    init(on connection: HTTP2Connection, _ request: String, reads: Bool = true) async throws {
        let channel = try await connection.openStream()
        let state = seen
        task = Task {
            do {
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: request))
                    guard reads else {
                        try await Task.sleep(for: .seconds(60))
                        return
                    }
                    for try await buffer in inbound { state.lock.withLock { $0.text += String(buffer: buffer) } }
                }
                state.lock.withLock { $0.ending = "end" }
            } catch {
                state.lock.withLock { $0.ending = "\(error)" }
            }
        }
    }

    deinit { task.cancel() }
}
