import EventStream
import SSEClient
import SSEServer
import TestSupport
import Testing

/// The small async API other packages use: `for try await event in EventSource(url:).events`.
@Suite("Client: EventSource as an async sequence", .serialized)
struct EventSourceTests {
    @Test("events arrive in order across a reconnection (with Last-Event-ID); a 204 ends the sequence without an error")
    func eventsThenStop() async throws {
        let server = try ScriptedServer([
            [.send(ScriptedServer.streamHead + "retry: 10\nid: 1\ndata: one\n\nevent: tick\ndata: two\n\n"), .close],
            [.send(ScriptedServer.status(204, "No Content")), .close],
        ])
        var seen: [ServerSentEvent] = []
        for try await event in try EventSource(url: "http://127.0.0.1:\(server.port)/s").events { seen.append(event) }
        #expect(seen == [ServerSentEvent(data: "one", id: "1", retry: 10), ServerSentEvent(type: "tick", data: "two", id: "1")])
        #expect(server.requests.last?.contains("Last-Event-ID: 1") == true)
        server.stop()
    }

    @Test("a refusal ends the sequence by throwing EventSourceError with the reason")
    func refusalThrows() async throws {
        let server = try ScriptedServer([[.send(ScriptedServer.status(503, "Service Unavailable")), .close]])
        await #expect(throws: EventSourceError.self) {
            for try await _ in try EventSource(url: "http://127.0.0.1:\(server.port)/s").events {}
        }
        server.stop()
    }

    @Test("leaving the loop closes the connection: the server sees its subscriber go")
    func leavingCloses() async throws {
        let server = SSEServer(configuration: ServerConfiguration(streamDefaults: StreamSettings(heartbeatMilliseconds: 0)))
        let port = try #require(try await server.start().port)
        try await server.configure(stream: "news") { $0.initialEvent = ServerSentEvent(data: "first") }
        for try await event in try EventSource(url: "http://127.0.0.1:\(port)/streams/news").events {
            #expect(event.data == "first")
            #expect(try await server.snapshot().streams.first?.clients.count == 1)
            break
        }
        #expect(try await eventually { try await server.snapshot().streams.first?.clients.isEmpty ?? true })
        await server.stop()
    }
}
