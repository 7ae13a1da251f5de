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

/// `drip load --source`: the local addresses connections are made from.
@Suite("Load: --source parsing")
struct SourceAddressesTests {
    @Test("a range, a list and one address; round robin over them")
    func parses() throws {
        let range = try SourceAddresses(parsing: "127.0.0.1-127.0.0.4")
        #expect(range.addresses == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"])
        #expect((0..<6).map(range.address(for:)) == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.1", "127.0.0.2"])
        #expect(try SourceAddresses(parsing: "10.0.0.255-10.0.1.1").addresses == ["10.0.0.255", "10.0.1.0", "10.0.1.1"])
        #expect(try SourceAddresses(parsing: "127.0.0.1, ::1").addresses == ["127.0.0.1", "::1"])
        #expect(try SourceAddresses(parsing: "127.0.0.9").addresses == ["127.0.0.9"])
        let edge = try SourceAddresses(parsing: "10.0.0.0-10.0.3.255")
        #expect(edge.addresses.count == SourceAddresses.maxCount)
    }

    @Test(
        "what is not addresses is refused, naming it",
        arguments: [
            ("", "empty"), ("127.0.0.4-127.0.0.1", "backwards"), ("127.0.0.1-", "not a range"), ("127.0.0.256", "not an IP address"),
            ("10.0.0.0-10.0.4.0", "at most 1024"), ("localhost", "not an IP address"), ("1.2.3", "not an IP address"),
        ])
    func refuses(text: String, fragment: String) {
        #expect {
            _ = try SourceAddresses(parsing: text)
        } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    @Test("subscribers connect from each source address in turn")
    func connectsFromSources() async throws {
        let server = SSEServer(configuration: ServerConfiguration())
        let url = try HTTPURL(parsing: SSEServer.url(for: try await server.start()) + "/streams/from")
        var options = LoadOptions(url: url, clients: 4, duration: .seconds(2), threads: 1)
        options.sources = try SourceAddresses(parsing: "127.0.0.2-127.0.0.3")
        let running = Task { try await LoadGenerator.run(options) { _ in } }
        var remotes: Set<String> = []
        for _ in 0..<500 where remotes.count < 2 {
            remotes = Set((try await server.snapshot().streams.first?.clients ?? []).map { String($0.remote.prefix { $0 != ":" }) })
            try await Task.sleep(for: .milliseconds(10))
        }
        let report = try await running.value
        #expect(report.subscribersConnected == 4)
        #expect(remotes == ["127.0.0.2", "127.0.0.3"])
        await server.stop()
    }
}
