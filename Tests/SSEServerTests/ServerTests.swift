import EventStream
import Foundation
import NIOCore
import SSEServer
import Synchronization
import TestSupport
import Testing

/// Starts a server on an ephemeral port for one test, and stops it afterwards.
func withServer(
    _ configuration: ServerConfiguration = ServerConfiguration(streamDefaults: StreamSettings(heartbeatMilliseconds: 0)),
    _ body: (SSEServer, Int, LogCollector) async throws -> Void
) async throws {
    let log = LogCollector()
    let server = SSEServer(configuration: configuration) { log.record($0) }
    let address = try await server.start()
    let port = try #require(address.port)
    do {
        try await body(server, port, log)
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

/// Opens a subscriber to `stream`, waits for its response head and for the server to count it.
func subscribe(_ server: SSEServer, port: Int, stream: String, expecting count: Int = 1, receiveBuffer: Int32? = nil) async throws -> StreamSubscriber
{
    let subscriber = try StreamSubscriber(port: port, path: "/streams/\(stream)", receiveBuffer: receiveBuffer)
    _ = try subscriber.waitForHead()
    try await waitForClients(server, stream: stream, count: count)
    return subscriber
}

/// Waits until the server lists `count` clients on `stream` (subscriptions are registered on the
/// loop). The deadline is generous: on a busy machine, tests that block threads slow every other one.
func waitForClients(_ server: SSEServer, stream: String, count: Int) async throws {
    let counted = try await eventually { (try await server.snapshot().streams.first { $0.name == stream }?.clients.count ?? 0) >= count }
    if !counted { throw TestFailure("\(stream) never had \(count) clients") }
}

@Suite("Server: streams, publishing, resume", .serialized)
struct StreamTests {
    @Test("GET /streams/NAME answers 200 text/event-stream no-cache and stays open; POST publishes to it")
    func subscribeAndPublish() async throws {
        try await withServer { server, port, _ in
            let subscriber = try StreamSubscriber(port: port, path: "/streams/news")
            let head = try subscriber.waitForHead()
            #expect(head.status == 200)
            #expect(head.header("Content-Type")?.hasPrefix("text/event-stream") == true)
            #expect(head.header("Cache-Control") == "no-cache")
            try await waitForClients(server, stream: "news", count: 1)

            let (postHead, postBody) = try httpRequest(port: port, "POST", "/streams/news?event=greet&id=auto", body: "hello\nworld")
            #expect(postHead.status == 200)
            #expect(postBody == "{\"id\":\"1\",\"clients\":1}\n")
            let (jsonHead, jsonBody) = try httpRequest(
                port: port, "POST", "/streams/news", headers: ["Content-Type: application/json"],
                body: #"{"event":"tick","data":{"n":2},"id":"x7"}"#)
            #expect(jsonHead.status == 200)
            #expect(jsonBody == "{\"id\":\"x7\",\"clients\":1}\n")

            let events = subscriber.waitForEvents(2)
            #expect(
                events == [ServerSentEvent(type: "greet", data: "hello\nworld", id: "1"), ServerSentEvent(type: "tick", data: #"{"n":2}"#, id: "x7")])
            #expect(subscriber.ended == nil)
        }
    }

    @Test("the Swift API publishes with auto ids and targets one client")
    func swiftAPI() async throws {
        try await withServer { server, port, _ in
            let first = try StreamSubscriber(port: port, path: "/streams/room")
            let second = try StreamSubscriber(port: port, path: "/streams/room")
            try await waitForClients(server, stream: "room", count: 2)
            let receipt = try await server.publish(stream: "room", event: ServerSentEvent(data: "all", id: "auto"))
            #expect(receipt == PublishReceipt(id: "1", clients: 2))
            let target = try #require(try await server.snapshot().streams.first?.clients.first?.id)
            let private_ = try await server.publish(stream: "room", event: ServerSentEvent(data: "only you"), to: target)
            #expect(private_.clients == 1)
            await #expect(throws: ServerError.noSuchClient(999)) {
                try await server.publish(stream: "room", event: ServerSentEvent(data: "x"), to: 999)
            }
            #expect(first.waitForEvents(2).map(\.data) == ["all", "only you"])
            #expect(second.waitForEvents(1).map(\.data) == ["all"])
            second.read(timeout: 0.3) { false }
            #expect(second.events.count == 1)
        }
    }

    @Test("Last-Event-ID resumes after that id: no gap, no duplicate, then live events")
    func resumeFromHeader() async throws {
        try await withServer { server, port, _ in
            for n in 1...5 { try await server.publish(stream: "feed", event: ServerSentEvent(data: "e\(n)", id: "auto")) }
            let subscriber = try StreamSubscriber(port: port, path: "/streams/feed", headers: ["Last-Event-ID: 2"])
            #expect(subscriber.waitForEvents(3).map(\.data) == ["e3", "e4", "e5"])
            // The replay is marked, for clients that show comments (15.22).
            #expect(subscriber.comments == [#"replaying 3 events from history after Last-Event-ID "2""#])
            try await server.publish(stream: "feed", event: ServerSentEvent(data: "e6", id: "auto"))
            #expect(subscriber.waitForEvents(4).map(\.id) == ["3", "4", "5", "6"])
        }
    }

    @Test("an event without an id going into history is warned about once per stream: a resume after it gets it again (15.22)")
    func idlessWarning() async throws {
        try await withServer { server, port, log in
            try await server.publish(stream: "feed", event: ServerSentEvent(data: "a", id: "1"))
            try await server.publish(stream: "feed", event: ServerSentEvent(data: "b"))
            try await server.publish(stream: "feed", event: ServerSentEvent(data: "c"))
            #expect(log.wait { $0 == .idlessInHistory(stream: "feed") } != nil)
            #expect(log.all.filter { $0 == .idlessInHistory(stream: "feed") }.count == 1)
            // What the warning is about: a client that saw b and c still holds id 1, and gets them again.
            let subscriber = try StreamSubscriber(port: port, path: "/streams/feed", headers: ["Last-Event-ID: 1"])
            #expect(subscriber.waitForEvents(2).map(\.data) == ["b", "c"])
        }
    }

    @Test("?lastEventId= resumes for clients that cannot set headers")
    func resumeFromQuery() async throws {
        try await withServer { server, port, _ in
            for n in 1...3 { try await server.publish(stream: "feed", event: ServerSentEvent(data: "e\(n)", id: "auto")) }
            let subscriber = try StreamSubscriber(port: port, path: "/streams/feed?lastEventId=1")
            #expect(subscriber.waitForEvents(2).map(\.data) == ["e2", "e3"])
        }
    }

    @Test("an unknown id, or one pushed out of the history ring, replays the whole history with a comment")
    func unknownIdAndRingOverflow() async throws {
        let configuration = ServerConfiguration(streamDefaults: StreamSettings(historySize: 3, heartbeatMilliseconds: 0))
        try await withServer(configuration) { server, port, _ in
            for n in 1...5 { try await server.publish(stream: "feed", event: ServerSentEvent(data: "e\(n)", id: "auto")) }
            let subscriber = try StreamSubscriber(port: port, path: "/streams/feed", headers: ["Last-Event-ID: 1"])
            #expect(subscriber.waitForEvents(3).map(\.data) == ["e3", "e4", "e5"])
            #expect(subscriber.comments == [#"unknown Last-Event-ID "1": replaying all 3 events in history"#])
        }
    }

    @Test("a new subscriber gets the announced retry and the initial-state event first")
    func retryAndInitialState() async throws {
        try await withServer { server, port, _ in
            try await server.configure(stream: "dash") {
                $0.retryMilliseconds = 2500
                $0.initialEvent = ServerSentEvent(type: "state", data: #"{"users":3}"#)
            }
            let subscriber = try StreamSubscriber(port: port, path: "/streams/dash")
            subscriber.read { subscriber.events.count >= 1 }
            #expect(subscriber.outputs.first == .retry(2500))
            #expect(subscriber.events.first == ServerSentEvent(type: "state", data: #"{"users":3}"#, id: ""))
        }
    }

    @Test("heartbeat comments arrive at the configured interval")
    func heartbeats() async throws {
        let configuration = ServerConfiguration(streamDefaults: StreamSettings(heartbeatMilliseconds: 100))
        try await withServer(configuration) { _, port, _ in
            let subscriber = try StreamSubscriber(port: port, path: "/streams/quiet")
            #expect(subscriber.read(timeout: 3) { subscriber.comments.count >= 2 })
            #expect(subscriber.comments.allSatisfy { $0 == "heartbeat" })
        }
    }

    @Test("GET /streams lists streams and their clients as JSON")
    func listing() async throws {
        try await withServer { server, port, _ in
            let subscriber = try StreamSubscriber(port: port, path: "/streams/news")
            _ = try subscriber.waitForHead()
            try await waitForClients(server, stream: "news", count: 1)
            try await server.publish(stream: "news", event: ServerSentEvent(type: "tick", data: "1", id: "9"))
            let (head, body) = try httpRequest(port: port, "GET", "/streams")
            #expect(head.status == 200)
            #expect(head.header("Content-Type") == "application/json")
            let json = try JSONValue(parsing: body)
            guard case .array(let streams) = json["streams"], let news = streams.first else { throw TestFailure("no streams in \(body)") }
            #expect(news["name"] == .string("news"))
            #expect(news["lastId"] == .string("9"))
            #expect(news["types"] == .array([.string("tick")]))
            guard case .array(let clients) = news["clients"] else { throw TestFailure("no clients in \(body)") }
            #expect(clients.count == 1)
        }
    }

    @Test("stopping the server ends every stream cleanly")
    func stopEndsStreams() async throws {
        let log = LogCollector()
        let server = SSEServer(configuration: ServerConfiguration(streamDefaults: StreamSettings(heartbeatMilliseconds: 0))) { log.record($0) }
        let port = try #require(try await server.start().port)
        let subscriber = try StreamSubscriber(port: port, path: "/streams/news")
        try await waitForClients(server, stream: "news", count: 1)
        await server.stop()
        subscriber.read { false }
        #expect(subscriber.sawLastChunk)
        #expect(subscriber.ended == .end)
        #expect(log.all.contains(.disconnected(client: 1, stream: "news", reason: "the server stopped")))
    }

    @Test("a port in use is a clear error")
    func portInUse() async throws {
        try await withServer { _, port, _ in
            let second = SSEServer(configuration: ServerConfiguration(port: port))
            await #expect(throws: ServerError.bindFailed(address: "127.0.0.1:\(port)", reason: "the address is already in use")) {
                try await second.start()
            }
            await second.stop()
        }
    }
}

@Suite("Server: CORS, auth and limits", .serialized)
struct AccessTests {
    @Test("CORS preflight is answered; responses carry Access-Control-Allow-Origin")
    func cors() async throws {
        try await withServer { _, port, _ in
            let (preflight, _) = try httpRequest(
                port: port, "OPTIONS", "/streams/news",
                headers: ["Origin: http://app.test:3000", "Access-Control-Request-Method: GET", "Access-Control-Request-Headers: last-event-id"])
            #expect(preflight.status == 204)
            #expect(preflight.header("Access-Control-Allow-Origin") == "http://app.test:3000")
            #expect(preflight.header("Access-Control-Allow-Headers") == "last-event-id")
            #expect(preflight.header("Access-Control-Allow-Methods")?.contains("GET") == true)
            let subscriber = try StreamSubscriber(port: port, path: "/streams/news", headers: ["Origin: http://app.test:3000"])
            #expect(try subscriber.waitForHead().header("Access-Control-Allow-Origin") == "http://app.test:3000")
            let (plain, _) = try httpRequest(port: port, "GET", "/streams")
            #expect(plain.header("Access-Control-Allow-Origin") == "*")
        }
    }

    @Test("with allowed origins configured, other origins get no CORS grant")
    func corsAllowList() async throws {
        try await withServer(ServerConfiguration(allowedOrigins: ["http://good.test"])) { _, port, _ in
            let (good, _) = try httpRequest(port: port, "GET", "/streams", headers: ["Origin: http://good.test"])
            #expect(good.header("Access-Control-Allow-Origin") == "http://good.test")
            let (evil, _) = try httpRequest(port: port, "GET", "/streams", headers: ["Origin: http://evil.test"])
            #expect(evil.header("Access-Control-Allow-Origin") == nil)
        }
    }

    @Test("a token is needed for streams, publishing and the listing, by header or query")
    func token() async throws {
        try await withServer(ServerConfiguration(token: "s3cret")) { _, port, log in
            let (missing, body) = try httpRequest(port: port, "GET", "/streams/news")
            #expect(missing.status == 401)
            #expect(body.contains("Authorization: Bearer TOKEN or ?token=TOKEN"))
            #expect(try httpRequest(port: port, "POST", "/streams/news", body: "x").0.status == 401)
            #expect(try httpRequest(port: port, "GET", "/streams", headers: ["Authorization: Bearer wrong"]).0.status == 401)
            #expect(try httpRequest(port: port, "POST", "/streams/news?token=s3cret", body: "x").0.status == 200)
            #expect(try httpRequest(port: port, "GET", "/streams", headers: ["Authorization: Bearer s3cret"]).0.status == 200)
            let subscriber = try StreamSubscriber(port: port, path: "/streams/news?token=s3cret")
            #expect(try subscriber.waitForHead().status == 200)
            #expect(try httpRequest(port: port, "GET", "/").0.status == 200)
            #expect(!log.all.contains { "\($0)".contains("s3cret") })
        }
    }

    @Test("over the connection limit: 503 and a log line")
    func connectionLimit() async throws {
        let configuration = ServerConfiguration(streamDefaults: StreamSettings(heartbeatMilliseconds: 0), limits: ServerLimits(maxConnections: 2))
        try await withServer(configuration) { server, port, log in
            let first = try StreamSubscriber(port: port, path: "/streams/a")
            let second = try StreamSubscriber(port: port, path: "/streams/a")
            try await waitForClients(server, stream: "a", count: 2)
            let third = try StreamSubscriber(port: port, path: "/streams/a")
            #expect(try third.waitForHead().status == 503)
            #expect(log.wait { if case .requestError(_, 503, let reason) = $0 { reason.contains("too many connections") } else { false } } != nil)
            _ = (first, second)
        }
    }

    @Test("an oversized body is 413, an oversized head 431, a malformed request 400")
    func requestLimits() async throws {
        let configuration = ServerConfiguration(limits: ServerLimits(maxBodySize: 1024, maxHeaderSize: 2048))
        try await withServer(configuration) { _, port, _ in
            #expect(try httpRequest(port: port, "POST", "/streams/a", body: String(repeating: "x", count: 5000)).0.status == 413)
            #expect(try httpRequest(port: port, "GET", "/streams/a", headers: ["X-Big: " + String(repeating: "y", count: 4000)]).0.status == 431)
            let connection = try RawConnection(port: port)
            connection.send("NOT A REQUEST\r\n\r\n")
            let (bytes, _) = connection.read(until: { _ in false }, timeout: 2)
            #expect(ResponseHead.parse(bytes)?.head.status == 400)
        }
    }

    @Test(
        "invalid stream names are 400 with the reason",
        arguments: ["/streams/a%2Fb", "/streams/%00", "/streams/%2E%2E", "/streams/" + String(repeating: "n", count: 10_000), "/streams/a%ZZ"])
    func badStreamNames(path: String) async throws {
        try await withServer(ServerConfiguration(limits: ServerLimits(maxHeaderSize: 64 << 10))) { _, port, _ in
            let (head, body) = try httpRequest(port: port, "GET", path)
            #expect(head.status == 400)
            #expect(body.hasPrefix("400 Bad Request: "))
        }
    }

    @Test("a request head trickled slower than the timeout is answered 408 and closed; a subscription is not")
    func slowHeader() async throws {
        let configuration = ServerConfiguration(
            streamDefaults: StreamSettings(heartbeatMilliseconds: 0), limits: ServerLimits(requestHeadTimeoutMilliseconds: 300))
        try await withServer(configuration) { server, port, log in
            let trickle = try RawConnection(port: port)
            trickle.send("GET /str")
            let (bytes, last) = trickle.read(until: { _ in false }, timeout: 3)
            #expect(ResponseHead.parse(bytes)?.head.status == 408)
            #expect(last == .end)
            #expect(log.all.contains { if case .requestError(_, 408, _) = $0 { true } else { false } })
            let subscriber = try await subscribe(server, port: port, stream: "s")
            subscriber.read(timeout: 0.6) { false }
            #expect(subscriber.ended == nil)
        }
    }

    @Test("a publish body that is not UTF-8 is refused")
    func nonUTF8Body() async throws {
        try await withServer { _, port, _ in
            let connection = try RawConnection(port: port)
            connection.send("POST /streams/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n")
            connection.send([0xFF, 0xFE])
            let (bytes, _) = connection.read(until: { _ in false }, timeout: 2)
            let response = String(decoding: bytes, as: UTF8.self)
            #expect(response.hasPrefix("HTTP/1.1 400"))
            #expect(response.contains("not valid UTF-8"))
        }
    }
}
