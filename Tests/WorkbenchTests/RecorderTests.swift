import EventStream
import Foundation
import Testing

@testable import Workbench

@Suite("Recording")
struct RecorderTests {
    @Test(
        "secrets are written as *** unless asked",
        arguments: [
            ("connect c1 https://x/e header='Authorization: Bearer abc.def'", "connect c1 https://x/e header='Authorization: Bearer ***'"),
            ("connect c1 news header=\"authorization: s3cret\"", "connect c1 news header=\"authorization: ***\""),
            ("serve token=s3cret", "serve token=***"),
            ("serve token='two words'", "serve token=***"),
            ("connect c1 'news?token=s3cret&x=1'", "connect c1 'news?token=***&x=1'"),
            ("emit news data=harmless", "emit news data=harmless"),
            ("post /streams/x?TOKEN=s3cret header='Cookie: sid=abc; b=c'", "post /streams/x?TOKEN=*** header='Cookie: ***'"),
            ("GET /streams/%zz?token=S3cret → 400", "GET /streams/%zz?token=*** → 400"),
            ("header='Proxy-Authorization: Basic dXNlcg=='", "header='Proxy-Authorization: Basic ***'"),
            ("header='AUTHORIZATION: Bearer abc'", "header='AUTHORIZATION: Bearer ***'"),
            ("Set-COOKIE: sid=abc", "Set-COOKIE: ***"),
            ("connect c1 'café?ToKeN=s3cret'", "connect c1 'café?ToKeN=***'"),
            ("connect c1 http://127.0.0.1:8080/tokens/cookie-jar", "connect c1 http://127.0.0.1:8080/tokens/cookie-jar"),
        ])
    func masking(line: String, masked: String) {
        #expect(Secrets.masked(line) == masked)
    }

    @Test("record keeps secrets when the engine is told to (drip --record-secrets), and secrets= still decides per recording")
    func recordSecretsDefault() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drip-secrets-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (recordsSecrets, option, kept) in [(false, "", false), (true, "", true), (true, " secrets=off", false), (false, " secrets=on", true)] {
            let path = directory.appendingPathComponent("\(recordsSecrets)\(option.isEmpty ? "" : "-opt").drip").path
            let engine = Engine(recordsSecrets: recordsSecrets) { _, _ in }
            await engine.execute("record \(path)\(option)")
            await engine.execute("serve token=s3cret")
            await engine.execute("record stop")
            await engine.shutdown()
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains("serve token=s3cret") == kept, "recordsSecrets \(recordsSecrets), option '\(option)': \(text)")
            #expect(text.contains("serve token=***") == !kept)
        }
    }

    @Test("the client's connecting line shows a token in the URL as ***")
    func connectingLineMasked() {
        let line = ClientOutputStyle().lines(for: .connecting(url: "http://127.0.0.1:1/streams/s?token=s3cret&x=1", method: "GET", lastEventId: nil))
        #expect(line == ["connecting GET http://127.0.0.1:1/streams/s?token=***&x=1"])
    }

    @Test("recorded values are quoted so that they read back the same")
    func quoting() throws {
        for text in ["plain", "two words", "it's", "line\nbreak", "#hash", "a=b", "back\\slash", "", "tab\there", "é😀"] {
            let line = "x " + Recorder.quoted(text)
            #expect(try CommandLexer.words(in: line).map(\.text) == ["x", text], "\(text.debugDescription) → \(line)")
        }
    }
}

@Suite("What a client saw, for expectations")
struct SeenLogTests {
    @Test("the log keeps at most its limit, consumed items first, and still knows a later connect is a reconnection")
    func bounded() {
        var log = SeenLog(limit: 10)
        log.append(.open(status: 200))
        for n in 1...30 { log.append(.comment(String(n))) }
        #expect(log.items.count == 10)
        #expect(log.pending.first == .comment("21"))
        log.append(.connecting(url: "u", method: "GET", lastEventId: "7"))
        let expectation = try? Expectation.parse(
            [Word(text: "reconnected", column: 1), Word(text: "last-event-id=7", column: 13, valueColumn: 27)], text: "", command: "expect")
        #expect(expectation.map { log.matches($0).count } == 1)
        log.consume(throughLasting: log.dropped + 9)
        for n in 31...35 { log.append(.comment(String(n))) }
        #expect(log.pending.map { $0 } == (31...35).map { .comment(String($0)) })
    }
}
