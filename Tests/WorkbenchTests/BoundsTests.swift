import EventStream
import SSEServer
import TestSupport
import Testing
import Workbench

/// Issue 15 at the command language: counts, sizes, durations and tokens from a typo or a script are
/// bounded with errors that say the bound, and nothing traps; result lines mask secrets.
@Suite("Engine: bounds and secrets", .serialized)
struct BoundsTests {
    func engine() -> (Engine, Transcript) { recordingEngine() }

    @Test("huge counts, sizes and durations are errors naming the bound (15.3, 15.4); the server goes on")
    func hugeValues() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        await engine.execute("stream s")
        let cases = [
            ("stall s 2562048h", "stall: DURATION '2562048h' is longer than the longest duration drip takes (7d)"),
            ("delay s 2562048h", "delay: DURATION '2562048h' is longer than the longest duration drip takes (7d)"),
            ("chunk s 1 interval=2562048h", "chunk: interval= '2562048h' is longer than the longest duration drip takes (7d)"),
            ("connect c3 s read-timeout=2562048h", "connect: read-timeout= '2562048h' is longer than the longest duration drip takes (7d)"),
            ("emit s retry=9223372036855ms", "emit: retry= '9223372036855ms' is longer than the longest duration drip takes (7d)"),
            ("reject s 503 count=9223372036854775807", "reject: count=9223372036854775807 is outside 1 to 1000000 connections"),
            ("corrupt s long-line size=9223372036854775807", "corrupt: a long line of 9223372036854775807 bytes is outside 1 byte to 64 MiB"),
            ("sleep 5", "sleep: DURATION '5' has no unit: 5 what? write 5s or 5ms"),
        ]
        for (line, message) in cases {
            await engine.execute(line)
            #expect(transcript.failures.last?.message == message, "\(line)")
        }
        #expect(transcript.failures.count == cases.count)
        await engine.execute("emit s data=still-serving")
        #expect(transcript.failures.count == cases.count)
        await engine.shutdown()
    }

    @Test("post gives up on a server that never answers and on an answer over its size limit, naming each (15.11)")
    func postBounds() async throws {
        let (engine, transcript) = engine()
        let silent = try SilentListener()
        await engine.execute("post http://127.0.0.1:\(silent.port)/x body=hi timeout=300ms")
        #expect(transcript.failures.last?.message.hasSuffix("no complete answer within 300ms") == true, "\(transcript.failures)")
        await engine.execute("serve")
        await engine.execute("post / method=GET max-response=1KB")
        #expect(
            transcript.failures.last?.message.hasSuffix("the response body is larger than the limit of 1024 bytes") == true, "\(transcript.failures)")
        await engine.execute("post / method=GET")
        #expect(transcript.failures.count == 2)
        await engine.shutdown()
    }

    @Test("an @FILE value past the size limit is an error naming the limit and the option that raises it (15.12)")
    func fileLimit() async throws {
        let transcript = Transcript()
        let engine = Engine(fileSizeLimit: 4096) { transcript.record($0, $1) }
        await engine.execute("serve")
        await engine.execute("stream s")
        await engine.execute("emit s data=@/dev/zero")
        #expect(transcript.failures.last?.message == "emit: /dev/zero: larger than the limit of 4KiB (raise it with --max-file-size)")
        await engine.shutdown()
    }

    @Test("a regular expression that backtracks past the deadline fails the expectation at its deadline, saying why (15.14)")
    func regexDeadline() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        await engine.execute("stream s")
        await engine.execute("connect c1 s")
        await engine.execute("expect c1 opened")
        // (a+)+ against 16 a's and a '!' takes 2^16 backtracking paths: seconds, against a 100 ms deadline.
        await engine.execute("emit s data=\(String(repeating: "a", count: 16))!")
        await engine.execute("emit s data=abc")
        await engine.execute("expect c1 data~/^(a+)+$/ within 100ms")
        let failure = try #require(transcript.expectations.last)
        #expect(!failure.passed)
        #expect(failure.detail.contains("did not finish matching 17 bytes of data within the deadline"), "\(failure.detail)")
        await engine.shutdown()
    }

    @Test("serve token= empty is refused (15.6); a token in a command's result line is masked (15.5)")
    func tokens() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve token=")
        #expect(transcript.failures.last?.message == "serve: token= is empty; give a token, or leave token= out")
        await engine.execute("serve token=S3cret")
        await engine.execute("post '/streams/news?token=S3cret' body=hello")
        #expect(transcript.failures.count == 1, "\(transcript.lines)")
        #expect(!transcript.lines.joined().contains("S3cret"), "\(transcript.lines)")
        #expect(transcript.lines.contains { $0.contains("/streams/news?token=*** → 200") }, "\(transcript.lines)")
        await engine.shutdown()
    }

    @Test("CR or LF in a post header, method or URL, or a connect header name, is refused before anything is sent (15.15)")
    func injection() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        for line in [
            "post /streams/news header='X: a\\r\\nInjected: 1' body=x",
            "post /streams/news method='POST\\r\\nX: y' body=x",
            "post 'http://127.0.0.1:1/a\\r\\nX: y' body=x",
            "connect c1 news header='X\\nY: 1'",
        ] {
            let before = transcript.failures.count
            await engine.execute(line)
            #expect(transcript.failures.count == before + 1, "\(line) was not refused")
        }
        await engine.shutdown()
    }

    @Test("connect c1 /streams/news connects to that path of the embedded server (15.29)")
    func connectToPath() async throws {
        let (engine, transcript) = engine()
        await engine.execute("serve")
        await engine.execute("connect c1 /streams/news")
        try await transcript.wait { $0.clientEvents("c1").contains(.open(status: 200)) }
        let connecting = transcript.clientEvents("c1").compactMap { if case .connecting(let url, _, _) = $0 { url } else { nil } }
        let url = try #require(connecting.first)
        #expect(url.hasPrefix("http://127.0.0.1:") && url.hasSuffix("/streams/news") && !url.contains("//streams"), "\(url)")
        await engine.shutdown()
    }
}
