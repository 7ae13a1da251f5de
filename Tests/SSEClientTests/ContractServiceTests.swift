import EventStream
import Foundation
import SSEClient
import SSEServer
import TestSupport
import Testing

/// Plays the contract-test harness's part against the built `sse-contract-service`: creates a client
/// on drip's own server, receives its callbacks in order, sends commands, closes it.
@Suite("Contract-test service", .serialized)
struct ContractServiceTests {
    static let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sse-contract-service")

    /// Starts the service on a free port and returns it with its port.
    func startService() throws -> (Process, Int) {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["--port", "0"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line: [UInt8] = []
        while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { line.append(byte) }
        let text = String(decoding: line, as: UTF8.self)
        let port = try #require(text.split(separator: ":").last.flatMap { Int($0) }, "no port in \(text.debugDescription)")
        return (process, port)
    }

    func callbackBodies(_ server: ScriptedServer) -> [String] {
        server.requests.map { $0.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n") }
    }

    func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<500 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("timed out")
    }

    @Test("capabilities, create, callbacks in order, listen, restart with Last-Event-ID, close, stop")
    func harnessConversation() async throws {
        let (service, port) = try startService()
        defer { service.end() }
        let log = LogCollector()
        let drip = SSEServer(configuration: ServerConfiguration(streamDefaults: StreamSettings(heartbeatMilliseconds: 0))) { log.record($0) }
        let dripPort = try #require(try await drip.start().port)
        let callbacks = try ScriptedServer([[.send("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"), .close]])

        let (statusHead, statusBody) = try httpRequest(port: port, "GET", "/")
        #expect(statusHead.status == 200)
        let capabilities = try JSONValue(parsing: statusBody)["capabilities"]
        for capability in ["bom", "comments", "headers", "last-event-id", "post", "read-timeout", "report", "restart", "event-type-listeners"] {
            #expect(
                capabilities.map { if case .array(let items) = $0 { items.contains(.string(capability)) } else { false } } == true, "\(capability)")
        }

        #expect(try httpRequest(port: port, "POST", "/", body: #"{"callbackUrl":"http://127.0.0.1:1/x"}"#).0.status == 400)
        #expect(try httpRequest(port: port, "POST", "/", body: "not json").0.status == 400)

        let create =
            #"{"streamUrl":"http://127.0.0.1:\#(dripPort)/streams/contract","callbackUrl":"http://127.0.0.1:\#(callbacks.port)/callbacks/7","tag":"t","initialDelayMs":50,"headers":{"x-test":"yes"}}"#
        let (created, _) = try httpRequest(port: port, "POST", "/", body: create)
        #expect(created.status == 201)
        let location = try #require(created.header("Location"))

        try await waitFor { log.all.contains { if case .connected = $0 { true } else { false } } }
        try await drip.publish(stream: "contract", event: ServerSentEvent(data: "first", id: "1"))
        try await drip.publish(stream: "contract", event: ServerSentEvent(type: "tick", data: "not listened", id: "2"))
        try await drip.comment(stream: "contract", text: "a comment")
        // The client has handled everything up to the comment before it starts listening to "tick".
        try await waitFor { callbacks.requests.count >= 2 }
        #expect(try httpRequest(port: port, "POST", location, body: #"{"command":"listen","listen":{"type":"tick"}}"#).0.status == 204)
        try await drip.publish(stream: "contract", event: ServerSentEvent(type: "tick", data: "listened", id: "3"))
        try await waitFor { callbacks.requests.count >= 3 }
        #expect(try httpRequest(port: port, "POST", location, body: #"{"command":"restart"}"#).0.status == 204)
        try await waitFor { log.all.contains { if case .connected(_, _, _, "3") = $0 { true } else { false } } }
        try await drip.publish(stream: "contract", event: ServerSentEvent(data: "after restart", id: "4"))
        try await waitFor { callbacks.requests.count >= 4 }

        let paths = callbacks.requests.map { $0.components(separatedBy: " ")[1] }
        #expect(paths == (1...paths.count).map { "/callbacks/7/\($0)" })
        let bodies = try callbackBodies(callbacks).map { try JSONValue(parsing: $0) }
        #expect(
            bodies[0]
                == .object([
                    ("kind", .string("event")), ("event", .object([("type", .string("message")), ("data", .string("first")), ("id", .string("1"))])),
                ]))
        #expect(bodies[1] == .object([("kind", .string("comment")), ("comment", .string("a comment"))]))
        #expect(
            bodies[2]
                == .object([
                    ("kind", .string("event")), ("event", .object([("type", .string("tick")), ("data", .string("listened")), ("id", .string("3"))])),
                ]))
        // A restart the caller asked for is not an error: the next callback is the new connection's event (15.30).
        #expect(bodies[3]["event"]?["data"] == .string("after restart"))

        #expect(try httpRequest(port: port, "POST", "/clients/999", body: #"{"command":"restart"}"#).0.status == 404)
        #expect(try httpRequest(port: port, "POST", location, body: #"{"command":"dance"}"#).0.status == 400)
        #expect(try httpRequest(port: port, "DELETE", location).0.status == 204)
        #expect(try httpRequest(port: port, "DELETE", location).0.status == 404)
        try await waitFor { log.all.contains { if case .disconnected = $0 { true } else { false } } }
        #expect(try httpRequest(port: port, "DELETE", "/").0.status == 204)
        service.waitUntilExit()
        #expect(service.terminationStatus == 0)
        await drip.stop()
    }
}
