import EventStream
import Foundation
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

    @Test(
        "subscribers a server refuses at its connection limit are reported by reason at once, and the run ends (several rounds: the refusal may come before the reader is added)",
        .timeLimit(.minutes(1)))
    func refusedAtTheLimit() async throws {
        for _ in 0..<5 {
            let server = SSEServer(configuration: ServerConfiguration(limits: ServerLimits(maxConnections: 5)))
            let url = try HTTPURL(parsing: SSEServer.url(for: try await server.start()) + "/streams/full")
            let report = try await LoadGenerator.run(LoadOptions(url: url, clients: 12, duration: .milliseconds(100), threads: 2)) { _ in }
            #expect(report.subscribersConnected == 5)
            #expect(report.connectFailures == ["HTTP 503": 7])
            // With a publisher, the publish connection is refused too: the run ends with both reasons.
            let publishing = LoadOptions(url: url, clients: 12, publishURL: url, events: 5, threads: 2)
            await #expect {
                _ = try await LoadGenerator.run(publishing) { _ in }
            } throws: { error in
                "\(error)".contains("HTTP 503") && "\(error)".contains("refused 7 subscribers with HTTP 503 too")
            }
            await server.stop()
        }
    }

    @Test("a server that accepts and never answers: each subscriber fails after --connect-timeout, named so")
    func noAnswer() async throws {
        let server = try ScriptedServer([[.hold], [.hold]])
        var options = LoadOptions(url: try HTTPURL(parsing: "http://127.0.0.1:\(server.port)/s"), clients: 2, duration: .milliseconds(10), threads: 1)
        options.connectTimeout = .milliseconds(200)
        let report = try await LoadGenerator.run(options) { _ in }
        #expect(report.subscribersConnected == 0)
        #expect(report.connectFailures == ["no response within 200ms": 2])
        server.stop()
    }

    @Test("a run with a publisher reports each event's time to reach every subscriber, and the connect rate")
    func fanOutOfARun() async throws {
        let server = SSEServer(configuration: ServerConfiguration())
        let url = try HTTPURL(parsing: SSEServer.url(for: try await server.start()) + "/streams/fan")
        let report = try await LoadGenerator.run(LoadOptions(url: url, clients: 30, publishURL: url, events: 40, threads: 2)) { _ in }
        #expect(report.subscribersConnected == 30 && report.lost == 0)
        #expect(report.fanOutMicroseconds.count == 40)
        #expect(report.fanOutMicroseconds.allSatisfy { $0 != nil })
        // Reaching all takes at least as long as reaching any one: the largest latency is a fan-out time.
        #expect(abs(report.fanOutMilliseconds.max - report.latencyMilliseconds.max) < 0.002)
        #expect(report.connectSeconds > 0 && report.connectsPerSecond > 0)
        let summary = LoadReportFile(report)
        #expect(summary.fanOutMilliseconds.count == 40)

        // Subscribers without a publisher of their own (another host's run) track the same numbers.
        let other = try HTTPURL(parsing: url.description.replacingOccurrences(of: "/streams/fan", with: "/streams/other"))
        let listener = Task {
            try await LoadGenerator.run(LoadOptions(url: other, clients: 5, events: 40, duration: .seconds(5), threads: 1)) { _ in }
        }
        var clients = 0
        for _ in 0..<1000 where clients < 5 {
            clients = try await server.snapshot().streams.first { $0.name == "other" }?.clients.count ?? 0
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(clients == 5)
        for sequence in 1...3 {
            let sentAt = UInt64(Date().timeIntervalSince1970 * 1e9)
            _ = try await server.publish(stream: "other", event: ServerSentEvent(data: "{\"seq\":\(sequence),\"t\":\(sentAt)}"))
        }
        let heard = try await listener.value
        #expect(heard.published == 0)
        #expect(heard.fanOutMicroseconds.count == 3 && heard.fanOutMicroseconds.allSatisfy { $0 != nil }, "\(heard.fanOutMicroseconds)")
        await server.stop()
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

/// `drip load merge`: reports of several processes summed, percentiles from the added histograms.
@Suite("Load: merging reports")
struct LoadMergeTests {
    /// A report as `drip load --json` writes it, with `samples` latencies in microseconds.
    func reportJSON(
        subscribers: Int, delivered: Int, lost: Int = 0, samples: [(microseconds: UInt64, count: Int)], fanOut: [UInt32?]? = nil
    ) -> String {
        var histogram = LatencyHistogram()
        for (microseconds, count) in samples { for _ in 0..<count { histogram.record(microseconds: microseconds) } }
        return JSONValue.object(
            [
                ("subscribers", .number(String(subscribers))), ("connectFailures", .number("0")), ("published", .number("10")),
                ("delivered", .number(String(delivered))), ("deliverySeconds", .number("2.00")), ("lost", .number(String(lost))),
                ("streamErrors", .number("0")), ("duplicated", .number("0")), ("outOfOrder", .number("0")), ("disconnected", .number("0")),
                ("peakConnections", .number(String(subscribers))), ("latencyHistogram", histogram.json),
            ] + (fanOut.map { [("fanOutMicroseconds", JSONValue.array($0.map { $0.map { .number(String($0)) } ?? .null }))] } ?? [])
        ).serialized
    }

    @Test("9,000 deliveries at 1 ms and 1,000 at 100 ms: merged p50 1 ms and p99 100 ms (averaged p99s would say 50.5)")
    func knownPercentiles() throws {
        let fast = try LoadReportFile(json: reportJSON(subscribers: 900, delivered: 9000, samples: [(1000, 9000)]), what: "a.json")
        let slow = try LoadReportFile(json: reportJSON(subscribers: 100, delivered: 1000, lost: 3, samples: [(100_000, 1000)]), what: "b.json")
        #expect(fast.latency.milliseconds(atPercentile: 99) < 1.01 && slow.latency.milliseconds(atPercentile: 99) > 99.9)
        let merged = LoadReportFile.merge([fast, slow])
        #expect(merged.processes == 2 && merged.subscribers == 1000 && merged.delivered == 10_000 && merged.lost == 3)
        #expect(merged.latency.count == 10_000)
        #expect(abs(merged.latency.milliseconds(atPercentile: 50) - 1) < 0.01)
        #expect(abs(merged.latency.milliseconds(atPercentile: 90) - 1) < 0.01)
        #expect(abs(merged.latency.milliseconds(atPercentile: 99) - 100) < 0.1)
        #expect(abs(merged.deliveredPerSecond - 5000) < 0.01)
        // The merged report's histogram reads back as the same histogram (a merge of merges).
        let again = try LatencyHistogram(json: merged.latency.json, what: "merged")
        #expect(again.count == 10_000 && again.milliseconds(atPercentile: 99) == merged.latency.milliseconds(atPercentile: 99))
    }

    @Test("fan-out merges per event: the later of the two processes, and an event one process did not fully get reached no one")
    func mergesFanOut() throws {
        let first = try LoadReportFile(json: reportJSON(subscribers: 2, delivered: 6, samples: [], fanOut: [100, 2000, nil, 400]), what: "a")
        let second = try LoadReportFile(json: reportJSON(subscribers: 3, delivered: 9, samples: [], fanOut: [300, 50, 10, 5000]), what: "b")
        let merged = LoadReportFile.merge([first, second])
        #expect(merged.fanOutMicroseconds == [300, 2000, nil, 5000])
        #expect(merged.fanOutMilliseconds.count == 3 && merged.fanOutMilliseconds.p50 == 2 && merged.fanOutMilliseconds.max == 5)
        // A process without a publisher has no fan-out: the merged report has none either.
        let quiet = try LoadReportFile(json: reportJSON(subscribers: 1, delivered: 0, samples: []), what: "c")
        #expect(LoadReportFile.merge([first, quiet]).fanOutMicroseconds.isEmpty)
        #expect {
            _ = try LoadReportFile(
                json: reportJSON(subscribers: 1, delivered: 0, samples: []).replacingOccurrences(of: "}", with: ",\"fanOutMicroseconds\":[-1]}"),
                what: "d")
        } throws: { "\($0)".contains("fanOutMicroseconds") }
    }

    @Test("reports that are not drip load --json reports are refused, naming the file and the field")
    func refuses() throws {
        let good = reportJSON(subscribers: 1, delivered: 1, samples: [(1000, 1)])
        let cases: [(String, String)] = [
            ("not json", "is not JSON"),
            (good.replacingOccurrences(of: "\"lost\":0", with: "\"lost\":-1"), "lost is missing or not a count"),
            (good.replacingOccurrences(of: "\"digits\":3", with: "\"digits\":2"), "not the form drip load --json writes"),
            (good.replacingOccurrences(of: "[[", with: "[[0,1],["), "a latencyHistogram bucket"),
            (good.replacingOccurrences(of: ",1]]", with: ",1000000000000000001]]"), "more than"),
        ]
        for (text, fragment) in cases {
            #expect {
                _ = try LoadReportFile(json: text, what: "r.json")
            } throws: { error in
                "\(error)".contains("r.json") && "\(error)".contains(fragment)
            }
        }
    }
}
