import SSEClient
import SSELoad
import TestSupport
import Testing

/// drip load against servers that break the rules: what goes wrong is reported, not miscounted.
@Suite("Load generator", .serialized)
struct LoadGeneratorTests {
    @Test("a load subscriber whose stream breaks the rules is reported with the reason, not counted as lost events (15.27)")
    func loadSubscriberStreamError() async throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        let server = try ScriptedServer([[.send(head + "data: " + String(repeating: "x", count: 2 << 20) + "\n\n"), .hold]])
        let report = try await LoadGenerator.run(
            LoadOptions(url: try HTTPURL(parsing: "http://127.0.0.1:\(server.port)/s"), clients: 1, duration: .milliseconds(500), threads: 1)
        ) { _ in }
        #expect(report.streamErrors.count == 1, "\(report.streamErrors)")
        #expect(report.streamErrors.keys.first?.contains("longer than the limit") == true, "\(report.streamErrors)")
        #expect(report.lost == 0)
        server.stop()
    }
}
