import EventStream
import SSEServer
import TestSupport
import Testing

@Suite("Server: peers that misbehave in the middle of things", .serialized)
struct HardeningTests {
    @Test("a client reset in the middle of a large write is logged; the others get every event and the server keeps serving")
    func resetMidWrite() async throws {
        let configuration = ServerConfiguration(
            streamDefaults: StreamSettings(heartbeatMilliseconds: 0), limits: ServerLimits(maxQueuedBytes: 16 << 20))
        try await withServer(configuration) { server, port, log in
            let leaving = try StreamSubscriber(port: port, path: "/streams/big", receiveBuffer: 4096)
            _ = try leaving.waitForHead()
            let staying = try await subscribe(server, port: port, stream: "big", expecting: 2)
            let large = Array(repeating: String(repeating: "y", count: 64 << 10), count: 64).joined(separator: "\n")
            try await server.publish(stream: "big", event: ServerSentEvent(data: large, id: "1"))
            // Part of the 4 MB event (64 data lines) has arrived (the rest is queued in the server): now reset.
            _ = leaving.connection.read(timeout: 2, maximum: 1024)
            leaving.connection.reset()
            try await server.publish(stream: "big", event: ServerSentEvent(data: "after", id: "2"))
            #expect(staying.waitForEvents(2, timeout: 10).map(\.id) == ["1", "2"])
            #expect(staying.events.first?.data.count == large.count)
            let reason = log.wait { entry in
                if case .disconnected(_, "big", let reason) = entry { reason.contains("reset") || reason.contains("went away") } else { false }
            }
            #expect(reason != nil, "\(log.all)")
            try await waitForClients(server, stream: "big", count: 1)
            #expect(try await server.snapshot().streams.first?.clients.count == 1)
            let (head, _) = try httpRequest(port: port, "POST", "/streams/big", body: "still serving")
            #expect(head.status == 200)
            #expect(staying.waitForEvents(3, timeout: 5).last?.data == "still serving")
        }
    }

    @Test("bytes a subscriber sends after its request (a pipelined request, garbage, a huge line) are ignored, unparsed; its stream goes on")
    func bytesAfterSubscribing() async throws {
        try await withServer { server, port, log in
            let subscriber = try await subscribe(server, port: port, stream: "after")
            // The request decoder is gone once subscribed: none of this is parsed, answered or held.
            subscriber.connection.send("POST /streams/after HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            subscriber.connection.send("\u{0}\u{1}not http at all\r\n\r\n" + String(repeating: "z", count: 256 << 10))
            // Time for the loop to read them; a slower read only makes the check below weaker, never wrong.
            try await Task.sleep(for: .milliseconds(50))
            try await server.publish(stream: "after", event: ServerSentEvent(data: "still here", id: "1"))
            #expect(subscriber.waitForEvents(1).map(\.data) == ["still here"])
            #expect(try await server.snapshot().streams.first?.clients.count == 1)
            #expect(!log.all.contains { if case .requestError = $0 { true } else { false } }, "\(log.all)")
        }
    }
}

@Suite("Server: hostile paths", .serialized)
struct HostilePathTests {
    @Test(
        "anything but / is not a page: no file is read, whatever the path",
        arguments: ["/index.html", "/../../etc/passwd", "/%2E%2E/%2E%2E/etc/passwd", "/viewer", "//etc/passwd", "/streams/../../etc/passwd"])
    func onlyOnePage(path: String) async throws {
        try await withServer { _, port, _ in
            let (head, body) = try httpRequest(port: port, "GET", path)
            #expect([400, 404].contains(head.status))
            #expect(!body.contains("root:"))
            #expect(!body.contains("<html"))
        }
    }

    @Test("non-UTF-8 in a path, raw or percent-encoded, is 400 with the reason; the server keeps serving")
    func nonUTF8Paths() async throws {
        try await withServer { server, port, _ in
            for path: [UInt8] in [Array("/streams/".utf8) + [0xFF, 0xFE], Array("/streams/%FF%FE".utf8), Array("/streams/a%C3".utf8)] {
                let connection = try RawConnection(port: port)
                connection.send(Array("GET ".utf8) + path + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                let (bytes, _) = connection.read(until: { ResponseHead.parse($0) != nil }, timeout: 3)
                let status = ResponseHead.parse(bytes)?.head.status
                #expect(status == 400, "\(path) answered \(String(describing: status))")
            }
            _ = try await subscribe(server, port: port, stream: "fine")
        }
    }
}

@Suite("Server: fan-out in passes", .serialized)
struct FanOutTests {
    @Test("events published while a fan-out is under way reach every subscriber once, in order; a targeted event keeps its place")
    func publishesDuringFanOut() async throws {
        try await withServer { server, port, _ in
            let count = 3 * 128 + 17
            var subscribers: [StreamSubscriber] = []
            for _ in 1...count {
                let subscriber = try StreamSubscriber(port: port, path: "/streams/wide")
                _ = try subscriber.waitForHead(timeout: 30)
                subscribers.append(subscriber)
            }
            try await waitForClients(server, stream: "wide", count: count)
            let targetID = try #require(try await server.snapshot().streams.first?.clients.first?.id)
            for n in 1...60 {
                try await server.publish(stream: "wide", event: ServerSentEvent(data: "e\(n)", id: String(n)))
                if n == 30 { try await server.publish(stream: "wide", event: ServerSentEvent(type: "direct", data: "only you"), to: targetID) }
            }
            let expected = (1...60).map { "e\($0)" }
            var failures = 0
            for (index, subscriber) in subscribers.enumerated() where failures < 3 {
                let isTarget = index == 0
                // Everything is on its way once the first has it all; later waits are short.
                let events = subscriber.waitForEvents(isTarget ? 61 : 60, timeout: index == 0 ? 10 : 1).map(\.data)
                let wanted = isTarget ? Array(expected[..<30]) + ["only you"] + Array(expected[30...]) : expected
                #expect(events == wanted, "subscriber \(index)")
                if events != wanted { failures += 1 }
            }
        }
    }
}

/// Server-side fixes of issue 15: secrets, auth, response order, HEAD.
@Suite("Server: secrets, auth and request order", .serialized)
struct RequestHygieneTests {
    let protected = ServerConfiguration(token: "S3cret", streamDefaults: StreamSettings(heartbeatMilliseconds: 0))

    @Test("a token in a bad path is masked in the 400's body and in the log (15.5)")
    func tokenMasked() async throws {
        try await withServer(protected) { _, port, log in
            let (head, body) = try httpRequest(port: port, "GET", "/streams/%zz?token=S3cret")
            #expect(head.status == 400)
            #expect(!body.contains("S3cret") && body.contains("token=***"), "\(body)")
            let entry = log.wait { if case .requestError(_, 400, _) = $0 { true } else { false } }
            let line = try #require(entry).description
            #expect(!line.contains("S3cret") && line.contains("token=***"), "\(line)")
        }
    }

    @Test("an empty token is refused at start (15.6)")
    func emptyToken() async {
        let server = SSEServer(configuration: ServerConfiguration(port: 0, token: ""))
        await #expect(throws: ServerError.invalidConfiguration("the token is empty; give a token, or none to serve without one")) {
            try await server.start()
        }
        await server.stop()
    }

    @Test(
        "the Bearer scheme is case-insensitive; a wrong token is still refused (15.8)",
        arguments: [
            ("bearer S3cret", 200), ("BEARER   S3cret", 200), ("Bearer S3cret", 200), ("bearer wrong", 401), ("Basic S3cret", 401),
        ])
    func bearerScheme(header: String, status: Int) async throws {
        try await withServer(protected) { _, port, _ in
            let (head, _) = try httpRequest(port: port, "GET", "/streams", headers: ["Authorization: \(header)"])
            #expect(head.status == status)
        }
    }

    @Test("pipelined requests are answered in order: a valid POST, then an invalid one, in one read (15.16)")
    func pipelinedOrder() async throws {
        try await withServer { _, port, _ in
            let connection = try RawConnection(port: port)
            connection.send(
                "POST /streams/news HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
                    + "POST /streams/news?retry=x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nho")
            let (bytes, _) = connection.read(until: { String(decoding: $0, as: UTF8.self).components(separatedBy: "HTTP/1.1 ").count > 2 })
            let statuses = String(decoding: bytes, as: UTF8.self).components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["200", "400"])
        }
    }

    @Test("HEAD / is answered with the head alone, and the connection serves the next request (15.19)")
    func headHasNoBody() async throws {
        try await withServer { _, port, _ in
            let connection = try RawConnection(port: port)
            connection.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /streams HTTP/1.1\r\nHost: x\r\n\r\n")
            let (bytes, _) = connection.read(until: { String(decoding: $0, as: UTF8.self).contains("\"streams\"") })
            let text = String(decoding: bytes, as: UTF8.self)
            let answers = text.components(separatedBy: "HTTP/1.1 200 OK").dropFirst()
            #expect(answers.count == 2)
            #expect(answers.first?.hasSuffix("\r\n\r\n") == true, "the HEAD answer carries a body: \(text.prefix(400))")
            #expect(!text.contains("<html"))
        }
    }
}
