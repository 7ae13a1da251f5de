import EventStream
import Synchronization
import TestSupport
import Testing
import Workbench

/// Random input at the REPL must never crash or hang the engine: every line ends with an error line
/// or a result. Bounded in count; seeded, so a failure reproduces.
@Suite("Engine: hostile input")
struct InputFuzzTests {
    @Test("random bytes and random words never crash the engine", arguments: [1, 2, 3] as [UInt64])
    func randomLines(seed: UInt64) async {
        var random = SeededGenerator(seed: seed)
        let transcript = Mutex(0)
        let engine = Engine(sleep: { _ in }) { _, _ in transcript.withLock { $0 += 1 } }
        // Commands that would reach the network or the disk are left out; everything else is fair game.
        let vocabulary =
            [
                "emit", "comment", "drop", "stall", "delay", "chunk", "corrupt", "reject", "cut", "close", "clients", "streams", "status", "history",
                "log", "sleep", "help", "expect", "expect-not", "stream", "stop",
            ]
            + [
                "news", "c1", "event=", "id=auto", "data='", "\"", "\\", "\\q", "#", "=", "mode=reset", "1s", "-1", "99999999999999999999", "within",
                "count=0", "data~/[/", "é", "\u{0}", "\u{7}", "off",
            ]
        for _ in 0..<400 {
            let line: String
            if Bool.random(using: &random) {
                let bytes = (0..<Int.random(in: 0...60, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                line = String(decoding: bytes, as: UTF8.self)
            } else {
                line = (0..<Int.random(in: 1...6, using: &random)).map { _ in vocabulary.randomElement(using: &random) ?? "" }.joined(separator: " ")
            }
            _ = await engine.execute(line)
        }
        await engine.shutdown()
        #expect(transcript.withLock { $0 } > 0)
    }
}
