import EventStream
import TestSupport
import Testing
import Workbench

/// Random input at the REPL must never crash or hang the engine: every line ends with exactly one result
/// or one error (the parser's own, for a line it refuses), and the session carries on. Bounded in count; seeded, so a failure reproduces.
@Suite("Engine: hostile input")
struct InputFuzzTests {
    @Test("random bytes and random words never crash the engine", arguments: [1, 2, 3] as [UInt64])
    func randomLines(seed: UInt64) async {
        var random = SeededGenerator(seed: seed)
        let reports = Collector<WorkbenchEvent>()
        let engine = Engine(sleep: { _ in }) { event, _ in reports.record(event) }
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
            let before = reports.all.count
            let carriesOn = await engine.execute(line)
            #expect(carriesOn, "\(line.debugDescription) ended the session")
            let reported = reports.all[before...]
            // Nothing runs in the background here (no serve, no connect): what a line reports, it
            // reports before execute returns. A line the parser refuses is one failure; a blank or
            // comment line reports nothing; sleep reports nothing; every other command reports.
            switch Result(catching: { () throws(CommandError) in try CommandParser.parse(line) }) {
            case .failure(let error):
                #expect(reported.map(Self.failureMessage) == [error.message], "\(line.debugDescription)")
            case .success(nil):
                #expect(reported.isEmpty, "\(line.debugDescription) reported \(Array(reported))")
            case .success(let command?):
                if command.name != .sleep { #expect(reported.count == 1, "\(line.debugDescription) reported \(Array(reported))") }
            }
        }
        await engine.shutdown()
    }

    static func failureMessage(_ event: WorkbenchEvent) -> String? {
        if case .failure(let error) = event { error.message } else { nil }
    }
}
