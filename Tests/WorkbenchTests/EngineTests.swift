import EventStream
import SSEClient
import SSEServer
import Synchronization
import TestSupport
import Testing
import Workbench

/// Records what an engine reports, and waits for it.
final class Transcript: Sendable {
    private let entries = Collector<(WorkbenchEvent, [String])>()

    func record(_ event: WorkbenchEvent, _ lines: [String]) { entries.record((event, lines)) }

    var events: [WorkbenchEvent] { entries.all.map(\.0) }
    var lines: [String] { entries.all.flatMap(\.1) }
    var failures: [CommandError] { events.compactMap { if case .failure(let error) = $0 { error } else { nil } } }
    var expectations: [(passed: Bool, summary: String, detail: String)] {
        events.compactMap { if case .expectation(let passed, let summary, let detail) = $0 { (passed, summary, detail) } else { nil } }
    }

    func clientEvents(_ name: String) -> [ClientEvent] {
        events.compactMap { if case .client(name, let event) = $0 { event } else { nil } }
    }

    /// Waits for `condition` (see `eventually`); a timeout is a test failure showing the transcript.
    func wait(_ condition: @escaping (Transcript) -> Bool) async throws {
        if await !eventually({ condition(self) }) { Issue.record("timed out; transcript:\n\(lines.joined(separator: "\n"))") }
    }
}

/// An engine at speed 1 whose every report goes to the returned transcript.
func recordingEngine() -> (Engine, Transcript) {
    let transcript = Transcript()
    return (Engine { transcript.record($0, $1) }, transcript)
}

@Suite("Engine: commands against a real server and clients", .serialized)
struct EngineTests {
    func engine() -> (Engine, Transcript) { recordingEngine() }

    @Test("serve, stream, connect, emit: the client sees the event; drop: it reconnects with Last-Event-ID")
    func emitAndReconnect() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        await engine.execute("stream news retry=100ms")
        await engine.execute("connect c1 news")
        try await transcript.wait { $0.clientEvents("c1").contains(.open(status: 200)) }
        await engine.execute("emit news event=tick id=auto data='{\"n\":1}'")
        try await transcript.wait { !$0.clientEvents("c1").compactMap { if case .event(let e) = $0 { e } else { nil } }.isEmpty }
        #expect(transcript.clientEvents("c1").contains(.event(ServerSentEvent(type: "tick", data: #"{"n":1}"#, id: "1"))))
        #expect(transcript.lines.contains("emitted tick id=1 to news → 1 client"))
        await engine.execute("drop news mode=reset")
        try await transcript.wait { $0.clientEvents("c1").contains { if case .connecting(_, _, "1") = $0 { true } else { false } } }
        #expect(transcript.failures.isEmpty)
        await engine.shutdown()
    }

    @Test("serve tls=on: the REPL's own clients trust its certificate, over HTTP/2 and HTTPS/1.1; post publishes over https")
    func servesTLS() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve tls=on")
        #expect(transcript.lines.contains { $0.hasPrefix("serving on https://127.0.0.1:") })
        #expect(transcript.lines.contains { $0.hasPrefix("TLS certificate SHA-256 ") && $0.contains("public key pin sha256//") })
        await engine.execute("connect a news http=2")
        await engine.execute("connect b news http=1.1")
        try await transcript.wait { $0.clientEvents("a").contains(.open(status: 200)) && $0.clientEvents("b").contains(.open(status: 200)) }
        await engine.execute("post /streams/news?id=5 body=secure status=200")
        await engine.execute("expect a data=secure id=5 within 10s")
        await engine.execute("expect b data=secure id=5 within 10s")
        await engine.execute("streams")
        #expect(transcript.lines.contains { $0.contains("h2 stream 1") && $0.contains("HTTPS/1.1") }, "\(transcript.lines)")
        #expect(transcript.expectations.allSatisfy(\.passed) && transcript.expectations.count == 3, "\(transcript.expectations)")
        #expect(transcript.failures.isEmpty, "\(transcript.failures)")
        await engine.execute("serve cert=/nonexistent.pem key=/nonexistent.pem")
        #expect(transcript.failures.last?.message.contains("a server is already running") == true)
        await engine.shutdown()
    }

    @Test("serve: cert= and key= need tls=on and each other; an unreadable file is named")
    func serveTLSErrors() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve cert=/tmp/c.pem key=/tmp/k.pem")
        #expect(transcript.failures.last?.message == "serve: cert= and key= need tls=on")
        await engine.execute("serve tls=on cert=/tmp/c.pem")
        #expect(transcript.failures.last?.message.contains("cert= and key= go together") == true)
        await engine.execute("serve tls=on cert=/nonexistent/cert.pem key=/nonexistent/key.pem")
        #expect(transcript.failures.last?.message.contains("/nonexistent/cert.pem") == true, "\(transcript.failures)")
        await engine.shutdown()
    }

    @Test("the server's log names the workbench's own client on each of its connections: client N (c1), a stranger stays unnamed")
    func serverLogNamesClients() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        await engine.execute("stream news retry=100ms")
        await engine.execute("connect c1 news")
        try await transcript.wait { $0.lines.contains { $0.hasPrefix("server: client 1 (c1) connected to news from 127.0.0.1:") } }
        await engine.execute("drop news")
        try await transcript.wait { $0.lines.contains { $0.hasPrefix("server: client 2 (c1) connected to news from 127.0.0.1:") } }
        #expect(transcript.lines.contains("server: client 1 (c1) left news: dropped by the server (clean)"))
        await engine.execute("post /streams/other body=x")
        #expect(!transcript.lines.contains { $0.contains("(c1)") && $0.contains("other") })
        await engine.execute("close c1")
        try await transcript.wait { $0.lines.contains { $0.hasPrefix("server: client 2 (c1) left news") } }
        await engine.shutdown()
    }

    @Test("faults and listings report what they did")
    func faultsAndListings() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        for line in [
            "stream news", "stall news 1s", "delay news 200ms", "delay news 0", "chunk news 3", "chunk news off", "corrupt news bare-cr",
            "reject news 503 count=2", "reject news 307 location=/streams/other", "comment news hello there", "history news", "streams",
            "clients", "status", "log timestamps=on level=quiet",
        ] {
            await engine.execute(line)
        }
        #expect(transcript.failures.isEmpty, "\(transcript.failures)")
        for expected in [
            "news stalled for 1s", "news: each event delayed by 200ms", "news: no added latency", "news: frames written in 3-byte pieces",
            "news: whole frames again", "news: the next event will be malformed (bare-cr)", "news: the next 2 connections get 503",
            "news: no events in history", "no clients; open one with 'connect NAME URL'",
        ] {
            #expect(transcript.lines.contains(expected), "\(expected)")
        }
        // With timestamps on, every line starts with the time — a command's result too (15, friction).
        let stamped = try #require(transcript.lines.last)
        #expect(stamped.hasSuffix(" log: quiet, raw off, timestamps on") && stamped.first?.isNumber == true, "\(stamped)")
        await engine.shutdown()
    }

    @Test(
        "errors name the command and the problem, and nothing stops the engine",
        arguments: [
            ("stop", "stop: no server is running"),
            ("emit news data=x", "emit: no server is running; start one with 'serve'"),
            ("close ghost", "close: no client named ghost"),
            ("cut ghost", "cut: no client named ghost"),
            ("connect c1", "connect: give a URL, or start a server with 'serve' to connect to its stream c1"),
            ("connect c1 ftp://x", "connect: \"ftp://x\" is not an http:// or https:// URL"),
            ("help emt", "help: no command 'emt'; did you mean 'emit'?"),
            ("serve nowhere:99999", "serve: 'nowhere:99999' is not an address (HOST:PORT, :PORT or PORT; port 0 picks a free one)"),
            ("check server", "check server needs the URL of an event stream"),
            ("check server /streams/news", "check: /streams/news is a path on the embedded server, but none is running"),
            ("check server http://127.0.0.1:1/x end=204", "check server: end= is an option of check client"),
            ("check client http://x", "check client takes no URL (http://x): it listens (listen=HOST:PORT) and prints its own"),
            ("check client origin=http://a", "check client: origin= is an option of check server"),
            ("check client listen=nowhere", "check: listen=nowhere is not HOST:PORT (a port from 0 to 65535)"),
        ])
    func errors(line: String, message: String) async throws {
        let (engine, transcript) = engine()
        #expect(await engine.execute(line))
        #expect(transcript.failures.map(\.message) == [message])
        await engine.shutdown()
    }

    @Test("a command on a stream that does not exist is an error with the nearest name; it creates nothing (15.25)")
    func typoCreatesNothing() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        await engine.execute("stream news")
        await engine.execute("connect my news")
        try await transcript.wait { $0.clientEvents("my").contains(.open(status: 200)) }
        await engine.execute("emit nwes data=x")
        await engine.execute("stall my 2s")
        await engine.execute("drop my")
        #expect(
            transcript.failures.map(\.message) == [
                "emit: no stream named nwes; did you mean news? ('stream nwes' creates it)",
                "stall: no stream named my (my is a client) ('stream my' creates it)",
                "drop: no stream named my (my is a client) ('stream my' creates it)",
            ])
        await engine.execute("streams")
        #expect(!transcript.lines.contains { $0.hasPrefix("nwes") || $0.hasPrefix("my ") })
        await engine.execute("stream nwes")
        await engine.execute("emit nwes data=x")
        #expect(transcript.failures.count == 3)
        await engine.shutdown()
    }

    @Test("server-side errors: a second serve, a bad reject, a bad chunk size")
    func serverErrors() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        await engine.execute("serve")
        await engine.execute("stream news")
        await engine.execute("reject news 999")
        await engine.execute("reject news 301")
        await engine.execute("chunk news lots")
        let messages = transcript.failures.map(\.message)
        #expect(messages.count == 4)
        #expect(messages[0].hasPrefix("serve: a server is already running on http://127.0.0.1:"))
        #expect(messages[1] == "reject: STATUS '999' is not an HTTP status (100–599) or wrong-type")
        #expect(messages[2] == "reject: a 301 redirect needs location=URL")
        #expect(messages[3] == "chunk: SIZE 'lots' is not a size (3, 1KB) or off")
        await engine.shutdown()
    }

    @Test("sleep waits through the injected clock (nothing sleeps); comment, cut, close and history work on a live session")
    func sleepCommentCutClose() async throws {
        let slept = Collector<Duration>()
        let transcript = Transcript()
        let engine = Engine(sleep: { slept.record($0) }) { transcript.record($0, $1) }
        await engine.execute("sleep 90s")
        await engine.execute("sleep 250ms")
        #expect(slept.all == [.seconds(90), .milliseconds(250)])
        await engine.execute("serve")
        await engine.execute("stream news retry=100ms history=5")
        await engine.execute("connect c1 news")
        try await transcript.wait { $0.clientEvents("c1").contains(.open(status: 200)) }
        await engine.execute("comment news hello there")
        try await transcript.wait { $0.clientEvents("c1").contains(.comment("hello there")) }
        await engine.execute("emit news id=7 data=x")
        await engine.execute("history news")
        #expect(transcript.lines.contains { $0.hasPrefix("7   message  \"x\"") })
        // The cut must come after c1 has the event, or it resumes from no id (a busy machine may
        // not have delivered it yet).
        try await transcript.wait { $0.clientEvents("c1").contains(.event(ServerSentEvent(type: "message", data: "x", id: "7"))) }
        await engine.execute("cut c1")
        try await transcript.wait { $0.clientEvents("c1").contains(.reconnecting(after: .milliseconds(100), reason: "restarted on request")) }
        try await transcript.wait {
            $0.clientEvents("c1").contains(
                .connecting(
                    url: $0.clientEvents("c1").compactMap { if case .connecting(let url, _, _) = $0 { url } else { nil } }.first ?? "", method: "GET",
                    lastEventId: "7"))
        }
        await engine.execute("close c1")
        #expect(transcript.clientEvents("c1").last == .closed(reason: "closed by the user", isFailure: false))
        await engine.execute("clients")
        #expect(transcript.lines.last == "no clients; open one with 'connect NAME URL'")
        #expect(transcript.failures.isEmpty, "\(transcript.failures)")
        await engine.shutdown()
    }

    @Test("a client filters events by type and pretty-prints JSON; streams lists it; stop ends the server and the client reconnects")
    func filtersListingsStop() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        await engine.execute("connect c1 news event=tick pretty=on")
        try await transcript.wait { $0.clientEvents("c1").contains(.open(status: 200)) }
        await engine.execute("emit news event=other data=hidden")
        await engine.execute("emit news event=tick data='{\"n\":1}'")
        try await transcript.wait { $0.lines.contains("c1: tick:") }
        #expect(transcript.lines.contains("c1:     \"n\": 1"))
        #expect(!transcript.lines.contains { $0.contains("hidden") && $0.hasPrefix("c1:") })
        await engine.execute("streams")
        #expect(transcript.lines.contains { $0.hasPrefix("news           1        2") })
        await engine.execute("stop")
        #expect(transcript.lines.contains("server stopped"))
        try await transcript.wait { $0.clientEvents("c1").contains { if case .reconnecting = $0 { true } else { false } } }
        await engine.execute("status")
        #expect(transcript.lines.contains("server: not running"))
        #expect(transcript.failures.isEmpty, "\(transcript.failures)")
        await engine.shutdown()
    }

    @Test("help lists every command; help CMD shows usage, options and examples; quit ends")
    func helpAndQuit() async throws {
        let (engine, transcript) = engine()
        await engine.execute("help")
        for spec in CommandTable.commands { #expect(transcript.lines.contains { $0.hasPrefix(spec.name + " ") }, "\(spec.name)") }
        await engine.execute("help emit")
        #expect(transcript.lines.contains("usage: emit STREAM [event=TEXT] [id=TEXT] [data=DATA|@FILE] [retry=DURATION] [to=N]"))
        #expect(transcript.lines.contains("  emit news event=tick id=auto data='{\"n\":1}'"))
        #expect(await engine.execute("quit") == false)
        await engine.shutdown()
    }
}
