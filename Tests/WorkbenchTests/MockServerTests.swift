import EventStream
import Foundation
import TestSupport
import Testing
import Workbench

/// An engine that ran `lines` (the first being `serve`), with the port its server listens on.
func servingEngine(_ lines: [String]) async throws -> (Engine, Transcript, Int) {
    let (engine, transcript) = recordingEngine()
    for line in lines { await engine.execute(line, origin: "test:\(line.prefix(12))") }
    #expect(transcript.failures.isEmpty, "\(transcript.failures)")
    guard let serving = transcript.lines.first(where: { $0.hasPrefix("serving on http://127.0.0.1:") }),
        let port = Int(serving.dropFirst("serving on http://127.0.0.1:".count).prefix { $0.isNumber })
    else { throw TestFailure("no server in \(transcript.lines)") }
    return (engine, transcript, port)
}

@Suite("Mock servers: on-connect blocks, routes and the request in hand (real sockets)", .serialized)
struct MockServerTests {
    @Test("two clients connecting 200 ms apart both get the whole scenario from its start, with the same ids")
    func everyConnectionGetsTheWholeScenario() async throws {
        let (engine, _, port) = try await servingEngine([
            "serve", "stream chat heartbeat=0", "on-connect chat", "emit chat event=delta id=auto data=one", "sleep 300ms",
            "emit chat event=delta id=auto data=two", "emit chat event=done data='[DONE]'", "end",
        ])
        let first = try StreamSubscriber(port: port, path: "/streams/chat")
        try await Task.sleep(for: .milliseconds(200))
        let second = try StreamSubscriber(port: port, path: "/streams/chat")
        for subscriber in [first, second] {
            let events = subscriber.waitForEvents(3, timeout: 10)
            #expect(events.map(\.data) == ["one", "two", "[DONE]"])
            #expect(events.map(\.type) == ["delta", "delta", "done"])
            #expect(events.prefix(2).map(\.id) == ["1", "2"])
        }
        await engine.shutdown()
    }

    @Test("a client resuming with Last-Event-ID: 3 gets the branch for it; drip's client, dropped by the block, reconnects into it")
    func resumeBranch() async throws {
        let (engine, transcript, port) = try await servingEngine([
            "serve", "stream feed heartbeat=0 retry=100ms", "on-connect feed", "if request.header.Last-Event-ID=3",
            "emit feed event=resumed id=4 data='after ${request.header.Last-Event-ID}'", "else", "emit feed id=1 data=a", "emit feed id=2 data=b",
            "emit feed id=3 data=c", "drop feed", "end", "end",
        ])
        let fresh = try StreamSubscriber(port: port, path: "/streams/feed")
        #expect(fresh.waitForEvents(3, timeout: 10).map(\.data) == ["a", "b", "c"])
        fresh.read(timeout: 10) { false }
        #expect(fresh.ended == .end, "the block's drop ends the stream")
        let resuming = try StreamSubscriber(port: port, path: "/streams/feed", headers: ["Last-Event-ID: 3"])
        let resumed = resuming.waitForEvents(1, timeout: 10)
        #expect(resumed.map(\.type) == ["resumed"] && resumed.map(\.data) == ["after 3"])

        await engine.execute("connect c1 feed")
        await engine.execute("expect c1 event=resumed data='after 3' within 10s")
        #expect(transcript.expectations.map(\.passed) == [true], "\(transcript.lines)")
        await engine.shutdown()
    }

    @Test("a POST with a JSON body is answered with a stream built from ${request.json…}; a value's quotes and # stay in their word")
    func postWithJSONBody() async throws {
        let (engine, _, port) = try await servingEngine([
            "serve", "stream chat heartbeat=0 path=/v1/chat/completions method=POST", "on-connect chat",
            "emit chat event=delta data='Hello, ${request.json.user.name}: ${request.json.messages.1}'",
            "emit chat event=meta data='${request.method} ${request.path} ${request.query.model} ${request.header.x-trace} ${request.json.missing}.'",
            "emit chat data='[DONE]'", "drop chat", "end",
        ])
        let body = #"{"user":{"name":"ann"},"messages":["x","it's \"quoted\" # not a comment"]}"#
        let subscriber = try StreamSubscriber(
            port: port, path: "/v1/chat/completions?model=m1", method: "POST", headers: ["Content-Type: application/json", "X-Trace: t-1"],
            body: body)
        let events = subscriber.waitForEvents(3, timeout: 10)
        #expect(subscriber.head?.status == 200)
        #expect(subscriber.head?.header("Content-Type") == "text/event-stream; charset=utf-8")
        #expect(events.map(\.data) == [#"Hello, ann: it's "quoted" # not a comment"#, "POST /v1/chat/completions m1 t-1 .", "[DONE]"])
        await engine.shutdown()
    }

    @Test("a routed path serves its stream (query ignored); /other answers 404, another method 405 with Allow; a path taken twice names both streams")
    func routes() async throws {
        let (engine, transcript, port) = try await servingEngine(["serve", "stream news heartbeat=0 path=/api/events"])
        #expect(transcript.lines.contains { $0.hasPrefix("route: GET http://127.0.0.1:\(port)/api/events → stream news") })
        let subscriber = try StreamSubscriber(port: port, path: "/api//events?since=yesterday")
        _ = try subscriber.waitForHead()
        await engine.execute("emit news data=routed")
        #expect(subscriber.waitForEvents(1).map(\.data) == ["routed"])
        #expect(subscriber.head?.status == 200)

        let (missing, missingBody) = try httpRequest(port: port, "GET", "/other")
        #expect(missing.status == 404 && missingBody.contains("/other"))
        let (wrongMethod, wrongBody) = try httpRequest(port: port, "POST", "/api/events", body: "x")
        #expect(wrongMethod.status == 405 && wrongMethod.header("Allow") == "GET")
        #expect(wrongBody.contains("stream news answers GET"))

        await engine.execute("stream other path=/api/events/")
        #expect(
            transcript.failures.last?.message == "stream: the path /api/events is already the route of stream news; stream other cannot have it too")
        for (line, message) in [
            ("stream x path=/streams/y", "paths under /streams are drip's own"), ("stream x path=events", "must start with /"),
            ("stream x path='/a b'", "may not hold spaces"), ("stream x method=POST", "method= needs path="),
            ("stream x path=/x method='PO ST'", "is not an HTTP token"),
        ] {
            await engine.execute(line)
            #expect(transcript.failures.last?.message.contains(message) == true, "\(line): \(transcript.failures.last?.message ?? "no failure")")
        }
        await engine.execute("streams")
        #expect(transcript.lines.contains { $0.hasPrefix("news") && $0.contains("GET /api/events") })
        await engine.shutdown()
    }

    @Test("a block's stall, drop and chunk apply to its connection only; another client of the stream keeps getting broadcasts")
    func perConnectionFaults() async throws {
        let (engine, transcript, port) = try await servingEngine([
            "serve", "stream room heartbeat=0", "on-connect room", "if request.query.who=slow", "stall room 30s", "end",
            "if request.query.who=leaver", "drop room", "end", "if request.query.who=chunked", "chunk room 4 interval=50ms", "end", "end",
        ])
        let slow = try StreamSubscriber(port: port, path: "/streams/room?who=slow")
        let leaver = try StreamSubscriber(port: port, path: "/streams/room?who=leaver")
        let chunked = try StreamSubscriber(port: port, path: "/streams/room?who=chunked")
        let steady = try StreamSubscriber(port: port, path: "/streams/room?who=steady")
        for subscriber in [slow, chunked, steady] { _ = try subscriber.waitForHead() }
        leaver.read(timeout: 10) { false }
        #expect(leaver.ended == .end)
        try await transcript.wait { $0.events.filter { if case .scenarioEnded = $0 { true } else { false } }.count == 4 }

        await engine.execute("emit room data=broadcast")
        #expect(steady.waitForEvents(1).map(\.data) == ["broadcast"])
        #expect(chunked.waitForEvents(1).map(\.data) == ["broadcast"])
        #expect(chunked.reads.count >= 3, "the head, then the frame in 4-byte pieces: \(chunked.reads.count) reads")
        slow.read(timeout: 0.5) { !slow.events.isEmpty }
        #expect(slow.events.isEmpty, "the stalled connection got the broadcast")
        await engine.shutdown()
    }

    @Test("reject in a block answers that connection with its status, body and headers; the next connection is served")
    func rejectWithBodyAndHeaders() async throws {
        let (engine, _, port) = try await servingEngine([
            "serve", "stream api heartbeat=0", "on-connect api", "if request.header.Authorization='Bearer good'", "emit api data=welcome", "else",
            #"reject api 401 body='{"error":"token expired"}' header='WWW-Authenticate: Bearer' header='X-Request: ${request.number}'"#, "end",
            "end",
        ])
        let (refused, body) = try httpRequest(port: port, "GET", "/streams/api")
        #expect(refused.status == 401)
        #expect(body == #"{"error":"token expired"}"#)
        #expect(refused.header("WWW-Authenticate") == "Bearer")
        #expect(refused.header("X-Request") == "1")
        #expect(refused.header("Content-Type") == "application/json")
        let welcomed = try StreamSubscriber(port: port, path: "/streams/api", headers: ["Authorization: Bearer good"])
        #expect(welcomed.waitForEvents(1).map(\.data) == ["welcome"])
        await engine.shutdown()
    }

    @Test("a request's value cannot split the answer: a header from a JSON field with CR LF fails the block, which answers 500")
    func requestValuesCannotInject() async throws {
        let (engine, transcript, port) = try await servingEngine([
            "serve", "stream api heartbeat=0 path=/login method=POST", "on-connect api", "reject api 400 header='X-Echo: ${request.json.name}'",
            "end",
        ])
        let (answer, body) = try httpRequest(
            port: port, "POST", "/login", headers: ["Content-Type: application/json"], body: #"{"name":"a\r\nSet-Cookie: session=stolen"}"#)
        #expect(answer.status == 500)
        #expect(answer.header("Set-Cookie") == nil && answer.header("X-Echo") == nil)
        #expect(body.contains("the mock's on-connect block failed") && body.contains("CR, LF"))
        try await transcript.wait { !$0.failures.isEmpty }
        #expect(transcript.failures.first?.message.contains("test:reject api 4") == true, "the failure names where the line was written")
        await engine.shutdown()
    }

    @Test("a connection that leaves while its block plays ends the block quietly; the block's later lines are skipped")
    func leavingEndsTheBlock() async throws {
        let (engine, transcript, port) = try await servingEngine([
            "serve", "stream s heartbeat=0", "on-connect s", "emit s data=first", "sleep 300ms", "emit s data=second", "end",
        ])
        let subscriber = try StreamSubscriber(port: port, path: "/streams/s")
        #expect(subscriber.waitForEvents(1).map(\.data) == ["first"])
        subscriber.connection.reset()
        try await transcript.wait { $0.events.contains { if case .scenarioEnded = $0 { true } else { false } } }
        #expect(transcript.failures.isEmpty, "\(transcript.failures)")
        #expect(transcript.lines.contains { $0.contains("the connection closed; the rest of the block is skipped") })
        await engine.shutdown()
    }
}

@Suite("Mock servers: reading on-connect blocks")
struct ScenarioReadingTests {
    /// The failures `lines` give, one per line (nil for a line taken).
    func failures(_ lines: [String]) async -> [String?] {
        let (engine, transcript) = recordingEngine()
        var results: [String?] = []
        for line in lines {
            let before = transcript.failures.count
            await engine.execute(line)
            let after = transcript.failures
            results.append(after.count > before ? "\(after[after.count - 1].column): \(after[after.count - 1].message)" : nil)
        }
        await engine.shutdown()
        return results
    }

    @Test("each line of a block is checked as it is read, with the column of the mistake; a line that fails is not taken")
    func checkedWhenRead() async {
        let results = await failures([
            "on-connect s", "connect c1 s", "emit s data=${request.nope}", "emit s evnt=x", "else", "stall s ${request.query.t}",
            "if request.header.X=1 extra", "if request.header.X=1", "else", "else", "on-connect t", "end", "emit t data=x", "end",
            "end",
        ])
        #expect(results[0] == nil)
        #expect(results[1]?.hasPrefix("1: connect cannot be in an on-connect block; a block may hold emit, comment, sleep") == true)
        #expect(results[2]?.hasPrefix("13: 'request.nope' is not a part of the request") == true, "\(results[2] ?? "")")
        #expect(results[3] == "8: emit: unknown option 'evnt='; did you mean 'event='?")
        #expect(results[4] == "1: else without an if")
        #expect(results[5] == nil, "a typed value filled in from the request is checked for each connection")
        #expect(results[6]?.hasPrefix("23: if takes one condition") == true)
        #expect(results[7] == nil && results[8] == nil)
        #expect(results[9] == "1: a second else for one if")
        #expect(results[10] == "1: on-connect blocks do not nest; end the block for s first")
        #expect(results[11] == nil && results[12] == nil && results[13] == nil)
        #expect(results[14] == "1: end belongs in an on-connect block (on-connect STREAM … end)")
    }

    @Test("if, else and end outside a block, and on-connect with a bad stream name, are errors naming them")
    func outsideABlock() async {
        let results = await failures(["if request.method=GET", "else", "on-connect 'a b'"])
        #expect(results[0] == "1: if belongs in an on-connect block (on-connect STREAM … end)")
        #expect(results[1] == "1: else belongs in an on-connect block (on-connect STREAM … end)")
        #expect(results[2]?.hasPrefix("12: on-connect: stream name \"a b\" may only hold") == true, "\(results[2] ?? "")")
    }
}
