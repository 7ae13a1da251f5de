import Foundation
import TestSupport
import Testing
import Workbench

/// Issue 15 items at the session level: replay inside a live session, log levels, stamps on every line.
@Suite("Engine: replay, log levels and stamps", .serialized)
struct SessionTests {
    @Test("replay inside a live session runs the script in a workbench of its own: its serve and stop leave the session's server running (15.23)")
    func replayInItsOwnWorkbench() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drip-replay-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("inner.drip")
        try "serve\nstream inner\nemit inner data=x\nstop\n".write(to: script, atomically: true, encoding: .utf8)
        let (engine, transcript) = recordingEngine()
        await engine.execute("serve")
        await engine.execute("stream news")
        await engine.execute("replay \(script.path)")
        #expect(transcript.failures.isEmpty, "\(transcript.failures)")
        #expect(transcript.lines.contains { $0.hasPrefix("replaying \(script.path) in a workbench of its own") })
        #expect(transcript.lines.filter { $0 == "server stopped" }.count == 1, "the script's stop stopped its own server")
        await engine.execute("emit news data=still-here")
        #expect(transcript.lines.contains("emitted message to news → 0 clients"), "the session's server is still running")
        await engine.shutdown()
    }

    @Test("log level takes quiet or normal only (verbose did nothing, so it is refused, naming the choices) (15.24)")
    func logLevels() async {
        let (engine, transcript) = recordingEngine()
        await engine.execute("log level=verbose")
        #expect(transcript.failures.map(\.message) == ["log: level= 'verbose' is not one of quiet, normal"])
        await engine.execute("log level=quiet")
        await engine.execute("log level=normal")
        #expect(transcript.lines.suffix(2) == ["log: quiet, raw off, timestamps off", "log: normal, raw off, timestamps off"])
    }

    @Test("log timestamps=on stamps every line: results, errors and the server's log alike (15, friction)")
    func stampsEveryLine() async throws {
        let (engine, transcript) = recordingEngine()
        await engine.execute("log timestamps=on")
        let mark = transcript.lines.count
        await engine.execute("serve")
        await engine.execute("stream news")
        await engine.execute("emit nwes data=x")
        await engine.execute("emit news data=x")
        try await transcript.wait { $0.lines.contains { $0.contains("server: published") } }
        let lines = transcript.lines[mark...]
        #expect(lines.count >= 4)
        let stamp = try Regex(#"^\d\d:\d\d:\d\d\.\d\d\d "#)
        for line in lines { #expect(line.contains(stamp), "unstamped: \(line)") }
        await engine.shutdown()
    }
}
