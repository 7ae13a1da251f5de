import EventStream
import NIOCore
import SSEClient
import SSEProxy
import SSEServer
import TestSupport
import Testing

/// A proxy in front of `upstream` for one test, with what it reported.
final class ProxyUnderTest: Sendable {
    let proxy: ProxyServer
    let port: Int
    private let seen = Collector<ProxyEvent>()

    init(upstream: String, tls: TLSOptions = TLSOptions(), limits: ProxyServer.Limits = ProxyServer.Limits()) async throws {
        let seen = self.seen
        proxy = try ProxyServer(upstream: try HTTPURL(parsing: upstream), tls: tls, limits: limits) { seen.record($0) }
        port = try await proxy.start()
    }

    var events: [ProxyEvent] { seen.all }

    /// Waits (polling, up to 5 s) until what the proxy reported satisfies `done`.
    func wait(until done: ([ProxyEvent]) -> Bool) async throws {
        for _ in 0..<500 {
            if done(events) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("the proxy never reported it; it reported \(events)")
    }

    /// A client of `path` through the proxy, once the proxy has passed on the upstream's event-stream
    /// answer to it (the `exchange`th through this proxy).
    func subscribe(_ path: String, exchange: Int = 1) async throws -> StreamSubscriber {
        let client = try StreamSubscriber(port: port, path: path)
        _ = try client.waitForHead()
        try await wait { $0.contains { if case .response(exchange, 200, _, _, true, _) = $0 { true } else { false } } }
        return client
    }

    func ended(_ connection: Int) -> String? {
        events.lazy.compactMap { if case .ended(connection, let reason, _) = $0 { reason } else { nil } }.first
    }
}

/// drip's own server as a real upstream (no heartbeats, so streams carry only what a test sends).
private func startServer() async throws -> (SSEServer, Int) {
    let server = SSEServer(configuration: ServerConfiguration(port: 0, streamDefaults: StreamSettings(heartbeatMilliseconds: 0)))
    let address = try await server.start()
    return (server, address.port ?? 0)
}

private func clientsOf(_ stream: String, on server: SSEServer) async -> Int {
    (try? await server.snapshot().streams.first { $0.name == stream }?.clients.count) ?? 0
}

@Suite("Proxy: real upstreams, real sockets", .serialized)
struct ProxyTests {
    @Test("an event stream passes byte for byte; hop-by-hop headers stop at the proxy; the upstream gets Host, Via and X-Forwarded-For")
    func passesThroughAndFiltersHeaders() async throws {
        let stream = "retry: 1500\r\n: hello\r\nid: 1\r\nevent: tick\r\ndata: one\r\n\r\ndata: two\rdata: lines\r\r"
        let upstream = try ScriptedServer([
            [
                .send(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\n"
                        + "Keep-Alive: timeout=5\r\nX-End: kept\r\nTransfer-Encoding: chunked\r\n\r\n"),
                .send(String(stream.utf8.count - 10, radix: 16) + "\r\n" + String(stream.dropLast(10)) + "\r\n"), .pause(milliseconds: 50),
                .send("a\r\n" + String(stream.suffix(10)) + "\r\n0\r\n\r\n"), .close,
            ]
        ])
        let proxy = try await ProxyUnderTest(upstream: "http://127.0.0.1:\(upstream.port)")
        let client = try StreamSubscriber(
            port: proxy.port, path: "/events?x=1", headers: ["Last-Event-ID: 3", "Proxy-Connection: keep-alive", "TE: trailers"])
        let head = try client.waitForHead()
        #expect(head.status == 200)
        #expect(head.header("X-Hop") == nil && head.header("Keep-Alive") == nil)
        #expect(head.header("X-End") == "kept" && head.header("Via") == "1.1 drip")
        client.read { client.sawLastChunk }
        #expect(String(decoding: client.body, as: UTF8.self) == stream)
        let request = try #require(upstream.requests.first)
        #expect(request.hasPrefix("GET /events?x=1 HTTP/1.1\r\nHost: 127.0.0.1:\(upstream.port)\r\n"))
        #expect(
            request.contains("Last-Event-ID: 3\r\n") && request.contains("Via: 1.1 drip\r\n") && request.contains("X-Forwarded-For: 127.0.0.1\r\n"))
        #expect(!request.contains("Proxy-Connection") && !request.contains("TE: trailers"))
        try await proxy.wait { events in events.contains { if case .ended(1, _, true) = $0 { true } else { false } } }
        let seen = proxy.events.compactMap { if case .observed(1, .event(let event, .passed)) = $0 { event.data } else { nil } }
        #expect(seen == ["one", "two\nlines"])
        #expect(
            proxy.events.contains(
                .request(
                    connection: 1, method: "GET", target: "/events?x=1",
                    headers: [
                        HeaderField(name: "Host", value: "127.0.0.1"), HeaderField(name: "Accept", value: "text/event-stream"),
                        HeaderField(name: "Last-Event-ID", value: "3"), HeaderField(name: "Proxy-Connection", value: "keep-alive"),
                        HeaderField(name: "TE", value: "trailers"),
                    ])))
        await proxy.proxy.stop()
        upstream.stop()
    }

    @Test("a POST body is forwarded; a JSON answer with Content-Length comes back untouched; the base path prefixes the target")
    func postAndPlainAnswer() async throws {
        let upstream = try ScriptedServer([
            [.send("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"), .close]
        ])
        let proxy = try await ProxyUnderTest(upstream: "http://127.0.0.1:\(upstream.port)/api/")
        let (head, body) = try httpRequest(port: proxy.port, "POST", "/v1/chat", headers: ["Content-Type: application/json"], body: "{\"q\":1}")
        #expect(head.status == 201 && head.header("Content-Length") == "11" && body == "{\"ok\":true}")
        let request = try #require(upstream.requests.first)
        #expect(request.hasPrefix("POST /api/v1/chat HTTP/1.1\r\n"))
        #expect(request.hasSuffix("Content-Length: 7\r\n\r\n{\"q\":1}"))
        await proxy.proxy.stop()
        upstream.stop()
    }

    @Test("drop after=3 mode=reset: the client gets exactly three events, then a reset; the upstream is closed too")
    func dropAfterEvents() async throws {
        let (server, serverPort) = try await startServer()
        let proxy = try await ProxyUnderTest(upstream: "http://127.0.0.1:\(serverPort)")
        try await proxy.proxy.addFaults(RelayFaults(dropAfter: .init(events: 3, mode: .reset)))
        let client = try await proxy.subscribe("/streams/s")
        for number in 1...5 { _ = try await server.publish(stream: "s", event: ServerSentEvent(data: "e\(number)", id: "\(number)")) }
        client.read { client.ended != nil }
        #expect(client.events.map(\.data) == ["e1", "e2", "e3"])
        #expect(client.ended == .reset)
        #expect(String(decoding: client.body, as: UTF8.self).hasSuffix("id: 3\ndata: e3\n\n"))
        try await proxy.wait { _ in proxy.ended(1) != nil }
        #expect(proxy.ended(1)?.contains("dropped by the proxy (reset)") == true)
        // The upstream's subscriber went away with the client.
        for _ in 0..<500 where await clientsOf("s", on: server) > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await clientsOf("s", on: server) == 0)
        await proxy.proxy.stop()
        await server.stop()
    }

    @Test("skip and duplicate on an open stream: the client misses one event and sees the next twice")
    func skipAndDuplicate() async throws {
        let (server, serverPort) = try await startServer()
        let proxy = try await ProxyUnderTest(upstream: "http://127.0.0.1:\(serverPort)")
        let client = try await proxy.subscribe("/streams/s")
        try await proxy.proxy.addFaults(RelayFaults(skip: 1, duplicate: 1), connection: 1)
        for number in 1...3 { _ = try await server.publish(stream: "s", event: ServerSentEvent(data: "e\(number)")) }
        #expect(client.waitForEvents(3).map(\.data) == ["e2", "e2", "e3"])
        await proxy.proxy.stop()
        await server.stop()
    }

    @Test("stall holds the client's bytes back, then they come in order; chunk writes them in pieces; delay holds each read back")
    func pacing() async throws {
        let (server, serverPort) = try await startServer()
        let proxy = try await ProxyUnderTest(upstream: "http://127.0.0.1:\(serverPort)")
        try await proxy.proxy.stall(for: .seconds(60))
        let client = try await proxy.subscribe("/streams/s")
        _ = try await server.publish(stream: "s", event: ServerSentEvent(data: "held"))
        try await proxy.wait { $0.contains { if case .observed(1, .event(let event, .passed)) = $0 { event.data == "held" } else { false } } }
        // The proxy has passed the event on; the stall (given before the stream opened) holds it back.
        client.read(timeout: 0.1) { !client.events.isEmpty }
        #expect(client.events.isEmpty)
        try await proxy.proxy.stall(for: .zero)  // lifts it
        #expect(client.waitForEvents(1).map(\.data) == ["held"])
        try await proxy.proxy.chunk(size: 4, interval: .milliseconds(20), connection: 1)
        let chunked = ContinuousClock.now
        _ = try await server.publish(stream: "s", event: ServerSentEvent(data: "in pieces"))
        #expect(client.waitForEvents(2).map(\.data) == ["held", "in pieces"])
        // "data: in pieces\n\n" is 17 bytes: five pieces of at most 4, 20 ms apart. Counting the
        // client's reads would depend on how fast it reads; the time the pieces take does not.
        #expect(ContinuousClock.now - chunked >= .milliseconds(80))
        // delay: each read waits at least the delay before it is written (a lower bound: safe on a busy machine).
        try await proxy.proxy.chunk(size: nil, connection: 1)
        try await proxy.proxy.delay(by: .milliseconds(250), connection: 1)
        let published = ContinuousClock.now
        _ = try await server.publish(stream: "s", event: ServerSentEvent(data: "late"))
        #expect(client.waitForEvents(3).map(\.data) == ["held", "in pieces", "late"])
        #expect(ContinuousClock.now - published >= .milliseconds(250))
        await proxy.proxy.stop()
        await server.stop()
    }

    @Test("rewrite and corrupt, byte for byte from the client's side: retry announced and replaced, ids left out, the next event's lines ended by CR")
    func rewriteAndCorrupt() async throws {
        let upstream = try ScriptedServer([
            [
                .send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"),
                .send("retry: 10000\nid: 1\ndata: a\n\nid: 2\ndata: b\n\ndata: c\n\n"), .hold,
            ]
        ])
        let proxy = try await ProxyUnderTest(upstream: "http://127.0.0.1:\(upstream.port)")
        // Given while no stream is open: they wait for the next one.
        try await proxy.proxy.addFaults(RelayFaults(rewriteRetry: 250, stripsIds: true, corruptions: [.bareCarriageReturns]))
        let client = try StreamSubscriber(port: proxy.port, path: "/events")
        client.read { String(decoding: client.body, as: UTF8.self).hasSuffix("data: c\n\n") }
        #expect(String(decoding: client.body, as: UTF8.self) == "retry: 250\n\nretry: 250\rdata: a\r\rdata: b\n\ndata: c\n\n")
        await proxy.proxy.stop()
        upstream.stop()
    }

    @Test("Expect: 100-continue is answered by the proxy and not forwarded; an upstream's interim 103 is not passed as the answer")
    func interimResponses() async throws {
        let upstream = try ScriptedServer([
            [.send("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), .close]
        ])
        let proxy = try await ProxyUnderTest(upstream: "http://127.0.0.1:\(upstream.port)")
        let connection = try RawConnection(port: proxy.port)
        connection.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = connection.read(until: { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") })
        #expect(String(decoding: interim.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
        connection.send("hello")
        let answer = connection.read(until: { String(decoding: $0, as: UTF8.self).hasSuffix("ok") })
        let text = String(decoding: answer.bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n") && !text.contains("103"), "\(text)")
        let request = try #require(upstream.requests.first)
        #expect(!request.lowercased().contains("expect:") && request.hasSuffix("hello"))
        await proxy.proxy.stop()
        upstream.stop()
    }

    @Test("an upstream header value with a control character is a 502, not passed on; a client that sends no head is closed")
    func hostileUpstreamAndSilentClient() async throws {
        let upstream = try ScriptedServer([[.send("HTTP/1.1 200 OK\r\nX-Bad: a\u{1B}[2Jb\r\nContent-Length: 0\r\n\r\n"), .close]])
        let proxy = try await ProxyUnderTest(
            upstream: "http://127.0.0.1:\(upstream.port)", limits: ProxyServer.Limits(requestHeadTimeout: .milliseconds(200)))
        let (head, body) = try httpRequest(port: proxy.port, "GET", "/x")
        #expect(head.status == 502 && head.header("X-Bad") == nil && body.contains("not valid HTTP"), "\(head.status) \(head.headers) \(body)")
        let silent = try RawConnection(port: proxy.port)
        let result = silent.read(timeout: 10)
        #expect(result == .end || result == .reset)
        await proxy.proxy.stop()
        upstream.stop()
    }

    @Test("reject answers without the upstream; an unreachable upstream is a 502 that names it")
    func rejectAndUnreachable() async throws {
        let proxy = try await ProxyUnderTest(upstream: "http://127.0.0.1:1")
        try proxy.proxy.reject(Rejection(status: 503, body: "busy", headers: [HeaderField(name: "Retry-After", value: "1")]), count: 1)
        let (first, body) = try httpRequest(port: proxy.port, "GET", "/events")
        #expect(first.status == 503 && first.header("Retry-After") == "1" && body == "busy")
        let (second, message) = try httpRequest(port: proxy.port, "GET", "/events")
        #expect(second.status == 502)
        #expect(message.contains("cannot reach the upstream 127.0.0.1:1"))
        await proxy.proxy.stop()
    }

    @Test("an https upstream trusted through a test CA")
    func httpsUpstream() async throws {
        let upstream = try await TLSStreamServer()
        let proxy = try await ProxyUnderTest(
            upstream: "https://127.0.0.1:\(upstream.port)",
            tls: TLSOptions(trustedCertificateFiles: [upstream.certificatePath], usesSystemTrustRoots: false))
        let client = try StreamSubscriber(port: proxy.port, path: "/stream")
        client.read { client.sawLastChunk }
        #expect(client.events.map(\.data) == ["over tls"])
        await proxy.proxy.stop()
        await upstream.stop()
    }

    @Test("a client that stops reading slows the upstream instead of filling the proxy: nothing is dropped, every byte arrives later")
    func backpressure() async throws {
        // 8 MB of numbered events, far past the 1 MiB the proxy may hold for a client; numbered, so a
        // write sent out of order (the socket's part and NIO's) shows as a different body.
        let body = (0..<8000).map { "data: \($0) " + String(repeating: "x", count: 1000) + "\n\n" }.joined()
        let upstream = try ScriptedServer([[.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + body), .close]])
        let proxy = try await ProxyUnderTest(upstream: "http://127.0.0.1:\(upstream.port)")
        let client = try StreamSubscriber(port: proxy.port, path: "/events", receiveBuffer: 4096)
        _ = try client.waitForHead()
        try await Task.sleep(for: .milliseconds(300))  // the client reads nothing meanwhile
        #expect(proxy.ended(1) == nil)
        client.read(timeout: 30) { client.sawLastChunk }
        #expect(client.body.count == body.utf8.count)
        // Compared as a Bool (swift-testing would diff two 8 MB arrays element by element on a
        // failure), and where they differ looked for only then: this test shares the pool's threads.
        let expected = Array(body.utf8)
        let same = client.body == expected
        #expect(same, "the body differs from byte \(same ? 0 : zip(client.body, expected).prefix { $0 == $1 }.count) on")
        #expect(client.events.count == 8000)
        try await proxy.wait { _ in proxy.ended(1) != nil }
        #expect(proxy.ended(1)?.contains("upstream") == true, "\(proxy.ended(1) ?? "")")
        await proxy.proxy.stop()
        upstream.stop()
    }
}
