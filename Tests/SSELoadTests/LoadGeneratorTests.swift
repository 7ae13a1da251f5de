import SSEClient
import SSELoad
import SSEServer
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

    @Test("--http2 --connections 3: 20 subscribers as streams over three HTTPS connections get every event; http is refused")
    func http2Streams() async throws {
        let tls = try ServerTLS.generated()
        let server = SSEServer(configuration: ServerConfiguration(tls: tls))
        let url = try HTTPURL(parsing: SSEServer.url(for: try await server.start(), secure: true) + "/streams/load")
        var options = LoadOptions(url: url, clients: 20, publishURL: url, events: 50, threads: 1)
        options.tls = TLSOptions(usesSystemTrustRoots: false, verifiesCertificates: false)
        options.http2Connections = 3
        let report = try await LoadGenerator.run(options) { _ in }
        #expect(report.subscribersConnected == 20, "\(report.connectFailures)")
        #expect(report.delivered == 20 * 50 && report.lost == 0)
        let remotes = try await server.snapshot().streams.first { $0.name == "load" }?.clients ?? []
        #expect(remotes.isEmpty || Set(remotes.map(\.remote)).count <= 3)
        await server.stop()

        var plain = LoadOptions(url: try HTTPURL(parsing: "http://127.0.0.1:9/s"), clients: 1, threads: 1)
        plain.http2Connections = 1
        await #expect(throws: (any Error).self) { try await LoadGenerator.run(plain) { _ in } }
    }
}
