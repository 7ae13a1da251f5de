import EventStream
import SSEProxy
import SSEServer
import Testing

@testable import Workbench

@Suite("Capture script: what passed through a proxy, as a mock")
struct CaptureScriptTests {
    @Test("an upstream's retry and an idle gap past drip's 7-day bound are written at the bound, so the script still reads")
    func durationsFromOutsideAreBounded() throws {
        var script = CaptureScript(upstream: "http://up.example", keepsSecrets: false)
        let start = ContinuousClock.now
        script.add(.request(connection: 1, method: "GET", target: "/streams/s?token=secret", headers: []), at: start)
        script.add(
            .response(connection: 1, status: 200, reason: "OK", contentType: "text/event-stream", isEventStream: true, headers: []), at: start)
        script.add(.observed(connection: 1, .retry(1_000_000_000_000)), at: start)
        script.add(.observed(connection: 1, .event(ServerSentEvent(data: "late"), .passed)), at: start + .seconds(8 * 86_400))
        let lines = script.lines()
        #expect(lines.contains("stream s heartbeat=0 retry=604800000ms"))
        #expect(lines.contains("  sleep 604800000ms"))
        #expect(lines.contains { $0.contains("?token=***") } && !lines.contains { $0.contains("secret") })
        for line in lines where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            #expect(throws: Never.self) { _ = try CommandParser.parse(line.trimmingCharacters(in: .whitespaces)) }
        }
    }
}
