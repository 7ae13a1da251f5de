import EventStream
import Foundation
import SSEServer
import TestSupport
import Testing

/// A helper process (Python, Chromium) that is always ended when the test ends.
final class HelperProcess {
    let process = Process()
    let output = Pipe()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The first line the process prints.
    func firstLine() -> String {
        var bytes: [UInt8] = []
        while let byte = try? output.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Everything the process prints until it exits, and its status.
    func finish() -> (String, Int32) {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), process.terminationStatus)
    }

    deinit { process.end() }
}

/// Real-browser tests, run by scripts/test (which installs Chromium and sets DRIP_BROWSER_TESTS=1).
@Suite(
    "Server: a real browser (headless Chromium)", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["DRIP_BROWSER_TESTS"] == "1", "set DRIP_BROWSER_TESTS=1 (scripts/test does)")
)
struct BrowserTests {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser")

    @Test("EventSource from another origin: named events, dropped, reconnects with Last-Event-ID, every event exactly once")
    func crossOriginReconnect() async throws {
        try await withServer { server, port, log in
            try await server.configure(stream: "browser") { $0.retryMilliseconds = 300 }
            let collector = try HelperProcess(["python3", Self.scripts.appendingPathComponent("collector.py").path])
            let pagePort = collector.firstLine()
            let stream = "http://127.0.0.1:\(port)/streams/browser"
            let page = "http://localhost:\(pagePort)/page?stream=\(stream.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? stream)"
            let browser = try HelperProcess([
                "python3", Self.scripts.appendingPathComponent("cdp.py").path, page, "JSON.stringify({seen, states})",
                "--until", #""lastEventId":"6""#, "--timeout", "30",
            ])

            try await waitForClients(server, stream: "browser", count: 1)
            for n in 1...3 { try await server.publish(stream: "browser", event: ServerSentEvent(type: "tick", data: "event \(n)", id: "auto")) }
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await server.drop(.stream("browser"), mode: .reset) == 1)
            for n in 4...5 { try await server.publish(stream: "browser", event: ServerSentEvent(type: "tick", data: "event \(n)", id: "auto")) }
            let reconnected = log.wait(timeout: 10) {
                if case .connected(_, "browser", _, let lastEventId) = $0 { lastEventId != nil } else { false }
            }
            try await server.publish(stream: "browser", event: ServerSentEvent(type: "tick", data: "event 6", id: "auto"))

            let (output, status) = browser.finish()
            #expect(status == 0, "the page did not receive event 6: \(output)")
            #expect(reconnected == .connected(client: 2, stream: "browser", remote: reconnectedRemote(reconnected), lastEventId: "3"))
            let json = try JSONValue(parsing: output.trimmingCharacters(in: .whitespacesAndNewlines))
            guard case .array(let seen) = json["seen"] else { throw TestFailure("no events in \(output)") }
            #expect(seen.map { $0["lastEventId"] } == (1...6).map { .string(String($0)) })
            #expect(seen.map { $0["data"] } == (1...6).map { .string("event \($0)") })
            #expect(seen.allSatisfy { $0["type"] == .string("tick") && $0["origin"] == .string("http://127.0.0.1:\(port)") })
            guard case .array(let states) = json["states"] else { throw TestFailure("no states in \(output)") }
            #expect(states.map(\.stringValue) == ["open", "connecting", "open"])
        }
    }

    @Test("the viewer page at / shows published events live, data as text")
    func viewerPage() async throws {
        try await withServer { server, port, _ in
            let browser = try HelperProcess([
                "python3", Self.scripts.appendingPathComponent("cdp.py").path, "http://127.0.0.1:\(port)/",
                "document.getElementById('events').innerText + ' | state=' + document.getElementById('state').textContent"
                    + " + ' | elements=' + document.querySelectorAll('#events script, #events b').length",
                "--until", "<script>alert(7)</script>", "--until", "state=open", "--until", "elements=0", "--timeout", "30",
            ])
            try await server.publish(stream: "lobby", event: ServerSentEvent(type: "chat", data: "warm-up"))
            var n = 0
            while browser.process.isRunning, n < 100 {
                n += 1
                try await server.publish(
                    stream: "lobby", event: ServerSentEvent(type: "chat", data: "<b>hi</b><script>alert(\(n))</script>", id: String(n)))
                try await Task.sleep(for: .milliseconds(300))
            }
            let (output, status) = browser.finish()
            #expect(status == 0, "the viewer never showed the events: \(output)")
            #expect(output.contains("chat\t"))
        }
    }
}

private func reconnectedRemote(_ entry: ServerLogEntry?) -> String {
    if case .connected(_, _, let remote, _) = entry { remote } else { "" }
}
