import EventStream
import SSEServer
import TestSupport
import Testing

/// Issue 15.9 and 15.13: streams and their history are bounded, and a request body cannot hold a connection.
@Suite("Server: streams come and go within limits", .serialized)
struct StreamLifecycleTests {
    private static func configuration(_ limits: ServerLimits, history: Int = 100) -> ServerConfiguration {
        ServerConfiguration(streamDefaults: StreamSettings(historySize: history, heartbeatMilliseconds: 0), limits: limits)
    }

    @Test("past --max-streams a request for a new stream is 503 naming the limit; existing streams still work")
    func streamLimit() async throws {
        try await withServer(Self.configuration(ServerLimits(maxStreams: 2))) { server, port, log in
            #expect(try httpRequest(port: port, "POST", "/streams/a", body: "1").0.status == 200)
            #expect(try httpRequest(port: port, "POST", "/streams/b", body: "2").0.status == 200)
            let (head, body) = try httpRequest(port: port, "POST", "/streams/c", body: "3")
            #expect(head.status == 503)
            #expect(body.contains("too many streams (limit 2)"), "\(body)")
            let subscriber = try StreamSubscriber(port: port, path: "/streams/d")
            #expect(try subscriber.waitForHead().status == 503)
            #expect(try httpRequest(port: port, "POST", "/streams/a", body: "4").0.status == 200)
            #expect(try await server.snapshot().streams.map(\.name) == ["a", "b"])
            #expect(log.all.contains { if case .requestError(_, 503, let reason) = $0 { reason.contains("too many streams") } else { false } })
        }
    }

    @Test("the history of all streams stays within the byte budget, oldest first; emptied streams a request made are removed")
    func historyBudget() async throws {
        // Each 1000-byte event holds its data and two encodings: a little over 3000 bytes.
        try await withServer(Self.configuration(ServerLimits(maxHistoryBytes: 10_000))) { server, port, _ in
            let data = String(repeating: "x", count: 1000)
            for name in ["s1", "s2", "s3", "s4", "s5"] {
                #expect(try httpRequest(port: port, "POST", "/streams/\(name)?id=1", body: data).0.status == 200)
            }
            let snapshot = try await server.snapshot()
            #expect(snapshot.streams.map(\.name) == ["s3", "s4", "s5"])
            #expect(snapshot.streams.allSatisfy { $0.historyCount == 1 })
            // An event larger than the whole budget is delivered but not remembered.
            let subscriber = try await subscribe(server, port: port, stream: "s5")
            #expect(try httpRequest(port: port, "POST", "/streams/s5?id=2", body: String(repeating: "y", count: 5000)).0.status == 200)
            #expect(subscriber.waitForEvents(1).first?.id == "2")
            #expect(try await server.history(stream: "s5").map(\.id) == ["1"])
        }
    }

    @Test("the budget drops the oldest entries of one busy stream too, and the per-stream ring still applies")
    func budgetWithinOneStream() async throws {
        try await withServer(Self.configuration(ServerLimits(maxHistoryBytes: 10_000), history: 2)) { server, port, _ in
            try await server.configure(stream: "kept") { _ in }
            for id in 1...6 {
                #expect(try httpRequest(port: port, "POST", "/streams/kept?id=\(id)", body: String(repeating: "z", count: 2000)).0.status == 200)
                #expect(try httpRequest(port: port, "POST", "/streams/small?id=\(id)", body: "s").0.status == 200)
            }
            #expect(try await server.history(stream: "kept").map(\.id) == ["6"])
            #expect(try await server.history(stream: "small").map(\.id) == ["5", "6"])
        }
    }

    @Test("a stream a request created goes when its last client leaves; one the workbench set up stays")
    func unusedStreamsRemoved() async throws {
        try await withServer(Self.configuration(ServerLimits(), history: 0)) { server, port, _ in
            try await server.configure(stream: "kept") { _ in }
            let passing = try await subscribe(server, port: port, stream: "passing")
            let staying = try await subscribe(server, port: port, stream: "kept")
            #expect(try await server.snapshot().streams.map(\.name) == ["kept", "passing"])
            passing.connection.reset()
            staying.connection.reset()
            try await waitUntil { try await server.snapshot().streams.map(\.name) == ["kept"] }
            // A publish to a stream without clients or history leaves nothing either.
            #expect(try httpRequest(port: port, "POST", "/streams/nobody", body: "x").0.status == 200)
            #expect(try await server.snapshot().streams.map(\.name) == ["kept"])
        }
    }

    @Test("a head announcing a body that never comes is answered 408 and closed")
    func bodyTimeout() async throws {
        try await withServer(Self.configuration(ServerLimits(requestBodyTimeoutMilliseconds: 300))) { _, port, log in
            let connection = try RawConnection(port: port)
            connection.send("POST /streams/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a little")
            let (bytes, last) = connection.read(until: { _ in false }, timeout: 10)
            #expect(ResponseHead.parse(bytes)?.head.status == 408)
            #expect(last == .end)
            #expect(log.all.contains { if case .requestError(_, 408, let reason) = $0 { reason.contains("request body") } else { false } })
        }
    }

    @Test("a header of bytes that are not UTF-8 counts as the bytes sent, not as their replacements (15.29)")
    func headSizeCountsWireBytes() async throws {
        try await withServer(Self.configuration(ServerLimits(maxHeaderSize: 16 << 10))) { _, port, _ in
            let connection = try RawConnection(port: port)
            connection.send(
                Array("POST /streams/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nLast-Event-ID: ".utf8) + [UInt8](repeating: 0xFF, count: 6000)
                    + Array("\r\n\r\nx".utf8))
            let (bytes, _) = connection.read(until: { ResponseHead.parse($0) != nil }, timeout: 5)
            #expect(ResponseHead.parse(bytes)?.head.status == 200)
        }
    }

    private func waitUntil(_ condition: () async throws -> Bool) async throws {
        for _ in 0..<500 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("the condition never held")
    }
}
