import EventStream
import Foundation
import NIOPosix
import SSEClient
import SSEServer
import Synchronization
import TestSupport
import Testing

/// The delays a client asks to sleep, recorded without sleeping: the injected clock of these tests.
typealias SleepRecorder = Collector<Duration>

extension Collector<Duration> {
    var requested: [Duration] { all }
    func sleep(_ duration: Duration) async throws { record(duration) }
}

/// Runs a client to its end and returns what it saw.
func runClient(_ options: ClientOptions, sleeper: SleepRecorder = SleepRecorder()) async -> [ClientEvent] {
    var seen: [ClientEvent] = []
    await EventSourceClient.run(options, sleep: { try await sleeper.sleep($0) }) { seen.append($0) }
    return seen
}

func options(port: Int, path: String = "/stream", configure: (inout ClientOptions) -> Void = { _ in }) throws -> ClientOptions {
    var options = ClientOptions(request: ClientRequest(url: try HTTPURL(parsing: "http://127.0.0.1:\(port)\(path)")))
    configure(&options)
    return options
}

extension [ClientEvent] {
    var events: [ServerSentEvent] { compactMap { if case .event(let event) = $0 { event } else { nil } } }
    var closed: ClientEvent? { last }
}

@Suite("Client: the spec's rules against a raw server", .serialized)
struct RawServerTests {
    @Test("204 stops for good: no reconnection, not a failure")
    func noContentStops() async throws {
        let server = try ScriptedServer([[.send(ScriptedServer.status(204, "No Content")), .close]])
        let seen = await runClient(try options(port: server.port))
        #expect(seen.closed == .closed(reason: "the server answered 204 No Content: stop", isFailure: false))
        #expect(server.requests.count == 1)
    }

    @Test(
        "another status or content type fails for good, naming it",
        arguments: [
            (ScriptedServer.status(500, "Internal Server Error"), "the server answered HTTP 500"),
            (ScriptedServer.status(404, "Not Found"), "the server answered HTTP 404"),
            (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
                #"the response is of type "application/json", not text/event-stream"#
            ),
        ])
    func failures(response: String, reason: String) async throws {
        let server = try ScriptedServer([[.send(response), .close]])
        let seen = await runClient(try options(port: server.port))
        #expect(seen.closed == .closed(reason: reason, isFailure: true))
        #expect(server.requests.count == 1)
    }

    @Test("the first request is an EventSource's: GET, Accept, Cache-Control, no Last-Event-ID")
    func firstRequest() async throws {
        let server = try ScriptedServer([[.send(ScriptedServer.status(204, "No Content")), .close]])
        _ = await runClient(try options(port: server.port, path: "/stream?x=1"))
        let request = try #require(server.requests.first)
        #expect(request.hasPrefix("GET /stream?x=1 HTTP/1.1\r\n"))
        #expect(request.contains("Accept: text/event-stream\r\n"))
        #expect(request.contains("Cache-Control: no-cache\r\n"))
        #expect(!request.lowercased().contains("last-event-id"))
    }

    @Test("POST with a body and custom headers reaches the server")
    func postWithBody() async throws {
        let server = try ScriptedServer([[.send(ScriptedServer.status(204, "No Content")), .close]])
        _ = await runClient(
            try options(port: server.port, path: "/v1/chat") {
                $0.request.method = "POST"
                $0.request.body = Array(#"{"prompt":"hi"}"#.utf8)
                $0.request.headers = [("Authorization", "Bearer abc"), ("Content-Type", "application/json")]
            })
        let request = try #require(server.requests.first)
        #expect(request.hasPrefix("POST /v1/chat HTTP/1.1\r\n"))
        #expect(request.contains("Authorization: Bearer abc\r\n"))
        #expect(request.contains("Content-Length: 15\r\n"))
        #expect(request.hasSuffix("\r\n\r\n{\"prompt\":\"hi\"}"))
    }

    @Test("redirects are followed; reconnection goes back to the original URL")
    func redirects() async throws {
        let server = try ScriptedServer([
            [.send(ScriptedServer.status(307, "Temporary Redirect", headers: ["Location: /moved"])), .close],
            [.send(ScriptedServer.streamHead + "retry: 10\ndata: here\n\n"), .close],
            [.send(ScriptedServer.status(204, "No Content")), .close],
        ])
        let seen = await runClient(try options(port: server.port, path: "/start"))
        #expect(seen.events.map(\.data) == ["here"])
        #expect(
            server.requests.map { $0.components(separatedBy: "\r\n")[0] } == ["GET /start HTTP/1.1", "GET /moved HTTP/1.1", "GET /start HTTP/1.1"])
    }

    @Test("a BOM and a CRLF split across reads are read as if whole")
    func splitAcrossReads() async throws {
        let server = try ScriptedServer([
            [
                .send(ScriptedServer.streamHead), .pause(milliseconds: 30), .sendBytes([0xEF, 0xBB]), .pause(milliseconds: 30),
                .sendBytes([0xBF] + Array("data: one\r".utf8)), .pause(milliseconds: 30), .send("\n\r"), .pause(milliseconds: 30),
                .send("\ndata: two\r\n\r\n"), .close,
            ],
            [.send(ScriptedServer.status(204, "No Content")), .close],
        ])
        let seen = await runClient(try options(port: server.port) { $0.reportsRawBytes = true })
        #expect(seen.events.map(\.data) == ["one", "two"])
        let raws = seen.compactMap { if case .raw(let bytes) = $0 { bytes } else { nil } }
        #expect(raws.count >= 4, "the pieces arrived in \(raws.count) reads")
    }

    @Test("reconnects send Last-Event-ID with the last id, and none while the id is empty")
    func lastEventIdOnReconnect() async throws {
        let server = try ScriptedServer([
            [.send(ScriptedServer.streamHead + "data: no id yet\n\n"), .close],
            [.send(ScriptedServer.streamHead + "id: 7\ndata: seven\n\nid: 8\ndata: unterminated"), .close],
            [.send(ScriptedServer.streamHead + "data: after\n\n"), .reset],
            [.send(ScriptedServer.status(204, "No Content")), .close],
        ])
        let seen = await runClient(try options(port: server.port))
        #expect(seen.events.map(\.data) == ["no id yet", "seven", "after"])
        #expect(seen.events.map(\.id) == ["", "7", "7"])
        let ids = server.requests.map { request in
            request.split(separator: "\r\n").first { $0.hasPrefix("Last-Event-ID: ") }.map { String($0.dropFirst(15)) }
        }
        #expect(ids == [nil, nil, "7", "7"])
        let connecting = seen.compactMap { if case .connecting(_, _, let id) = $0 { id } else { "-" } }
        #expect(connecting.filter { $0 != "-" } == ["7", "7"])
    }

    @Test("retry: changes the reconnection delay (an injected clock records it; nothing sleeps)")
    func retryChangesDelay() async throws {
        let server = try ScriptedServer([
            [.send(ScriptedServer.streamHead + "data: a\n\n"), .close],
            [.send(ScriptedServer.streamHead + "retry: 2500\n\n"), .close],
            [.send(ScriptedServer.streamHead + "retry: 40000\n\n"), .reset],
            [.send(ScriptedServer.status(204, "No Content")), .close],
        ])
        let sleeper = SleepRecorder()
        let seen = await runClient(try options(port: server.port), sleeper: sleeper)
        #expect(sleeper.requested == [.seconds(3), .milliseconds(2500), .seconds(40)])
        let reasons = seen.compactMap { if case .reconnecting(_, let reason) = $0 { reason } else { nil } }
        #expect(reasons == ["the server closed the connection", "the server closed the connection", "connection reset by the server"])
    }

    @Test("failed reconnections back off up to the maximum, then the client gives up with the reason")
    func backoffAndGiveUp() async throws {
        let server = try ScriptedServer([[.send(ScriptedServer.streamHead + "retry: 100\n\n"), .close], [.reset]])
        let sleeper = SleepRecorder()
        let seen = await runClient(
            try options(port: server.port) { $0.policy = ReconnectPolicy(backoffMultiplier: 3, maximumDelay: .milliseconds(500), maxAttempts: 4) },
            sleeper: sleeper)
        #expect(sleeper.requested == [.milliseconds(100), .milliseconds(300), .milliseconds(500), .milliseconds(500)])
        #expect(seen.closed == .closed(reason: "connection reset by the server; gave up after 4 reconnection attempts", isFailure: true))
        #expect(server.requests.count == 5)
    }

    @Test("a silent stream is broken after the read timeout, then reconnects")
    func readTimeout() async throws {
        let server = try ScriptedServer([
            [.send(ScriptedServer.streamHead + "data: hello\n\n"), .hold],
            [.send(ScriptedServer.status(204, "No Content")), .close],
        ])
        let started = ContinuousClock.now
        // Long enough that a busy machine (the whole suite on two cores) still reads the head in
        // time: the timeout is meant to break the silence after it, not the opening.
        let seen = await runClient(try options(port: server.port) { $0.readTimeout = .seconds(1) })
        #expect(seen.contains(.reconnecting(after: .seconds(3), reason: "no data within the read timeout")))
        #expect(ContinuousClock.now - started >= .milliseconds(980))
        #expect(seen.closed == .closed(reason: "the server answered 204 No Content: stop", isFailure: false))
    }

    @Test("a refused connection is one clear line and a failure")
    func refused() async throws {
        let server = try ScriptedServer([[.close]])
        let port = server.port
        server.stop()
        let seen = await runClient(try options(port: port))
        #expect(seen.closed == .closed(reason: "cannot connect to 127.0.0.1:\(port): connection refused", isFailure: true))
    }

    @Test("an over-long line stops the client with an error instead of growing memory")
    func lineLimit() async throws {
        let server = try ScriptedServer([[.send(ScriptedServer.streamHead + "data: " + String(repeating: "x", count: 100_000) + "\n\n"), .hold]])
        let seen = await runClient(try options(port: server.port) { $0.limits = .init(maxLineLength: 1024, maxEventSize: 4096) })
        #expect(seen.closed == .closed(reason: "the stream broke a limit at line 1: line longer than the limit of 1024 bytes", isFailure: true))
    }
}

@Suite("Client: against drip's own server", .serialized)
struct OwnServerTests {
    @Test("receives published events; after a drop it reconnects with Last-Event-ID and catches up from history")
    func dropAndCatchUp() async throws {
        let server = SSEServer(configuration: ServerConfiguration(streamDefaults: StreamSettings(heartbeatMilliseconds: 0, retryMilliseconds: 50)))
        let port = try #require(try await server.start().port)
        let collected = Collector<ClientEvent>()
        let clientOptions = try options(port: port, path: "/streams/news")
        let client = Task {
            await EventSourceClient.run(clientOptions) { event in collected.record(event) }
        }
        func waitFor(_ condition: ([ClientEvent]) -> Bool) async throws {
            for _ in 0..<300 {
                if condition(collected.all) { return }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw TestFailure("timed out; saw \(collected.all)")
        }
        try await waitFor { $0.contains(.open(status: 200)) }
        for n in 1...3 { try await server.publish(stream: "news", event: ServerSentEvent(data: "e\(n)", id: "auto")) }
        try await waitFor { $0.events.count == 3 }
        try await server.drop(.stream("news"), mode: .reset)
        for n in 4...5 { try await server.publish(stream: "news", event: ServerSentEvent(data: "e\(n)", id: "auto")) }
        try await waitFor { $0.events.count == 5 }
        client.cancel()
        let seen = await client.value
        #expect(seen == .closed(reason: "closed by the user", isFailure: false))
        let all = collected.all
        #expect(all.events.map(\.data) == ["e1", "e2", "e3", "e4", "e5"])
        #expect(all.contains(.connecting(url: "http://127.0.0.1:\(port)/streams/news", method: "GET", lastEventId: "3")))
        await server.stop()
    }
}

@Suite("Client: events straight to JSON lines (drip connect --json)", .serialized)
struct JSONLineClientTests {
    @Test("lines equal the decoded events, in order between open and closed; retry and Last-Event-ID work as for events")
    func linesInOrder() async throws {
        let body = "retry: 2500\n: note\nid: 7\nevent: tick\ndata: {\"n\":1}\ndata: é\n\ndata: no id line\n\nid: 8\ndata: cut"
        let server = try ScriptedServer([
            [.send(ScriptedServer.streamHead + body), .close],
            [
                .send(ScriptedServer.streamHead + "data: after\n\n"), .pause(milliseconds: 50),
                .sendBytes(Array("data: \u{1}".utf8) + [0xFF] + Array("\n\n".utf8)), .close,
            ],
            [.send(ScriptedServer.status(204, "No Content")), .close],
        ])
        // State changes as JSON-free markers and the lines as text, in the order they came.
        let log = Collector<String>()
        let sleeper = SleepRecorder()
        let final = await EventSourceClient.runEncodingLines(
            try options(port: server.port), form: .json, comments: true, sleep: { try await sleeper.sleep($0) }
        ) {
            event in
            switch event {
            case .connecting(_, _, let id): log.record("connecting \(id ?? "-")")
            case .open: log.record("open")
            case .reconnecting(let delay, _): log.record("reconnecting \(delay)")
            case .closed: log.record("closed")
            default: log.record("unexpected \(event)")
            }
        } lines: { lines in
            log.record(String(decoding: lines, as: UTF8.self))
        }
        #expect(sleeper.requested == [.milliseconds(2500), .milliseconds(2500)])
        #expect(final == .closed(reason: "the server answered 204 No Content: stop", isFailure: false))
        let text = log.all.joined(separator: "|")
        #expect(
            text == """
                connecting -|open|{"retry":2500}
                {"comment":"note"}
                {"type":"tick","data":"{\\"n\\":1}\\né","lastEventId":"7"}
                {"type":"message","data":"no id line","lastEventId":"7"}
                |reconnecting 2.5 seconds|connecting 7|open|{"type":"message","data":"after","lastEventId":"7"}
                |{"type":"message","data":"\\u0001\u{FFFD}","lastEventId":"7"}
                |reconnecting 2.5 seconds|connecting 7|closed
                """)
        let ids = server.requests.map { request in
            request.split(separator: "\r\n").first { $0.hasPrefix("Last-Event-ID: ") }.map { String($0.dropFirst(15)) }
        }
        #expect(ids == [nil, "7", "7"])
    }

    @Test("on an EventLoopTaskExecutor the client reads, parses and hands over on that loop's thread, reconnecting as anywhere")
    func onItsOwnLoop() async throws {
        let server = try ScriptedServer([
            [.send(ScriptedServer.streamHead + "id: 1\ndata: one\n\n"), .pause(milliseconds: 20), .send("data: two\n\n"), .close],
            [.send(ScriptedServer.status(204, "No Content")), .close],
        ])
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = loops.next()
        let clientOptions = try options(port: server.port)
        // Where each hand-over ran: true when on the loop's thread.
        let onLoop = Collector<Bool>()
        let lines = Collector<String>()
        let final = await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            await EventSourceClient.runEncodingLines(clientOptions, form: .json, comments: false, group: loop, sleep: { _ in }) { _ in
                onLoop.record(loop.inEventLoop)
            } lines: {
                onLoop.record(loop.inEventLoop)
                lines.record(String(decoding: $0, as: UTF8.self))
            }
        }
        try await loops.shutdownGracefully()
        #expect(final == .closed(reason: "the server answered 204 No Content: stop", isFailure: false))
        #expect(
            lines.all.joined() == """
                {"type":"message","data":"one","lastEventId":"1"}
                {"type":"message","data":"two","lastEventId":"1"}

                """)
        #expect(onLoop.all.count >= 6 && !onLoop.all.contains(false))
    }

    @Test("cancelling the task from the lines (output that cannot be written) closes the source as the user would")
    func outputFailureStops() async throws {
        let server = try ScriptedServer([[.send(ScriptedServer.streamHead + "data: one\n\n"), .hold]])
        let final = await EventSourceClient.runEncodingLines(try options(port: server.port), form: .json, comments: false) { _ in
        } lines: { _ in
            withUnsafeCurrentTask { $0?.cancel() }
        }
        #expect(final == .closed(reason: "closed by the user", isFailure: false))
    }
}
