import EventStream
import Foundation
import NIOCore
import SSEServer
import TestSupport
import Testing

/// Each fault checked from the receiving side: what arrives on the wire, read by read.
@Suite("Server: faults as the client sees them", .serialized)
struct FaultTests {
    @Test("drop clean: the chunked body ends, then the connection closes")
    func dropClean() async throws {
        try await withSubscriber { server, port, log, subscriber in
            let dropped = try await server.drop(.stream("s"), mode: .clean)
            #expect(dropped == 1)
            subscriber.read { false }
            #expect(subscriber.sawLastChunk)
            #expect(subscriber.ended == .end)
            #expect(log.wait { if case .disconnected(_, "s", let reason) = $0 { reason == "dropped by the server (clean)" } else { false } } != nil)
        }
    }

    @Test("drop truncate: the connection closes without the last chunk")
    func dropTruncate() async throws {
        try await withSubscriber { server, port, _, subscriber in
            try await server.drop(.stream("s"), mode: .truncate)
            subscriber.read { false }
            #expect(!subscriber.sawLastChunk)
            #expect(subscriber.ended == .end)
        }
    }

    @Test("drop reset: the client sees a TCP reset, not a clean end")
    func dropReset() async throws {
        try await withSubscriber { server, port, _, subscriber in
            let client = try #require(try await server.snapshot().streams.first?.clients.first?.id)
            try await server.drop(.client(client), mode: .reset)
            subscriber.read { false }
            #expect(subscriber.ended == .reset)
        }
    }

    @Test("chunk 3: an event arrives as separate reads of at most 3 event bytes each")
    func chunkedWrites() async throws {
        try await withSubscriber { server, port, _, subscriber in
            let readsBefore = subscriber.reads.count
            try await server.chunk(.stream("s"), size: 3, interval: .milliseconds(150))
            try await server.publish(stream: "s", event: ServerSentEvent(data: "hello"))
            #expect(subscriber.waitForEvents(1).map(\.data) == ["hello"])
            let reads = subscriber.reads[readsBefore...].map { String(decoding: $0, as: UTF8.self) }
            // "data: hello\n\n" is 13 bytes: five pieces, each framed as its own HTTP chunk and written
            // 150 ms apart, so they arrive as separate reads (a reader starved of CPU for longer may
            // see two at once; the framing shows they were written apart either way).
            #expect(reads.joined() == "3\r\ndat\r\n3\r\na: \r\n3\r\nhel\r\n3\r\nlo\n\r\n1\r\n\n\r\n")
            #expect(reads.count >= 4, "pieces arrived in \(reads.count) reads: \(reads)")
            try await server.chunk(.stream("s"), size: nil)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "whole"))
            #expect(subscriber.waitForEvents(2).last?.data == "whole")
        }
    }

    @Test("stall: nothing arrives during the stall, everything right after it, in order")
    func stall() async throws {
        try await withSubscriber { server, port, _, subscriber in
            // Taken before the stall is set: the stall's deadline is later than this, however busy the machine.
            let started = RawConnection.now()
            try await server.stall(.stream("s"), for: .milliseconds(600))
            try await server.publish(stream: "s", event: ServerSentEvent(data: "1"))
            try await server.publish(stream: "s", event: ServerSentEvent(data: "2"))
            // Whatever has been read by 590 ms after `started` was written during the stall. The window
            // is measured from `started`, not from here: on a busy machine the publishes may take
            // long, and a fixed 300 ms read after them could run past the stall's end (so could a
            // reader descheduled past it, which is why the check is made only when it was not).
            let window = 0.55 - (RawConnection.now() - started)
            if window > 0 { subscriber.read(timeout: window) { false } }
            if RawConnection.now() - started < 0.59 { #expect(subscriber.events.isEmpty) }
            #expect(subscriber.waitForEvents(2).map(\.data) == ["1", "2"])
            #expect(RawConnection.now() - started >= 0.59)
        }
    }

    @Test("delay: each event arrives no sooner than the delay")
    func delay() async throws {
        try await withSubscriber { server, port, _, subscriber in
            try await server.delay(.stream("s"), by: .milliseconds(300))
            let started = RawConnection.now()
            try await server.publish(stream: "s", event: ServerSentEvent(data: "late"))
            #expect(subscriber.waitForEvents(1).map(\.data) == ["late"])
            #expect(RawConnection.now() - started >= 0.28)
        }
    }

    @Test("corrupt: bare CRs, invalid UTF-8, a long line, a missing blank line — byte for byte")
    func corruptions() async throws {
        try await withSubscriber { server, port, _, subscriber in
            var wire: [UInt8] { subscriber.reads.flatMap { $0 } }

            try await server.corrupt(.stream("s"), .bareCarriageReturns)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "cr"))
            subscriber.read { subscriber.events.count >= 1 }
            #expect(wire.firstRange(of: Array("data: cr\r\r".utf8)) != nil)

            try await server.corrupt(.stream("s"), .invalidUTF8)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "bad"))
            subscriber.read { subscriber.events.count >= 2 }
            #expect(wire.firstRange(of: Array("data: ".utf8) + [0xFF, 0xFE] + Array("bad\n".utf8)) != nil)
            #expect(subscriber.events.last?.data == "\u{FFFD}\u{FFFD}bad")

            try await server.corrupt(.stream("s"), .longLine(4096))
            try await server.publish(stream: "s", event: ServerSentEvent(data: "after"))
            subscriber.read { subscriber.events.count >= 3 }
            #expect(subscriber.events.last?.data.count == 4090 + 1 + 5)

            try await server.corrupt(.stream("s"), .noBlankLine)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "first"))
            try await server.publish(stream: "s", event: ServerSentEvent(data: "second"))
            subscriber.read { subscriber.events.count >= 4 }
            #expect(subscriber.events.last?.data == "first\nsecond")
        }
    }

    @Test("reject: the next connections get 204, 503, a redirect, a wrong content type; then normal service")
    func rejections() async throws {
        try await withServer { server, port, log in
            try await server.reject(stream: "s", .status(204))
            try await server.reject(stream: "s", .status(503))
            try await server.reject(stream: "s", .redirect(307, location: "/streams/t"))
            try await server.reject(stream: "s", .wrongContentType("text/plain"))
            let noContent = try httpRequest(port: port, "GET", "/streams/s")
            #expect(noContent.0.status == 204)
            #expect(try httpRequest(port: port, "GET", "/streams/s").0.status == 503)
            let redirect = try httpRequest(port: port, "GET", "/streams/s").0
            #expect(redirect.status == 307)
            #expect(redirect.header("Location") == "/streams/t")
            let wrong = try httpRequest(port: port, "GET", "/streams/s").0
            #expect(wrong.status == 200)
            #expect(wrong.header("Content-Type") == "text/plain")
            let normal = try StreamSubscriber(port: port, path: "/streams/s")
            #expect(try normal.waitForHead().header("Content-Type")?.hasPrefix("text/event-stream") == true)
            #expect(log.all.filter { if case .rejected = $0 { true } else { false } }.count == 4)
        }
    }

    @Test(
        "a client that reads slower than events come gets every one, once and in order, while its socket fills and drains (direct writes on and off)",
        arguments: [true, false])
    func slowReaderKeepsOrder(writesDirectly: Bool) async throws {
        try await withSmallWindowReader(maxQueuedBytes: 64 << 20, writesDirectly: writesDirectly) { server, port, _, reader in
            // More than the socket holds, read a little at a time: the socket fills, what follows waits
            // in NIO's buffer, and each small read makes room that a newer event must not take.
            let large = String(repeating: "x", count: 64 << 10)
            let total = 240
            for n in 1...total {
                try await server.publish(stream: "s", event: ServerSentEvent(data: n % 3 == 0 ? "small \(n)" : large, id: String(n)))
                reader.readOnce(maximum: 16 << 10, timeout: 0.001)
            }
            #expect(reader.waitForEvents(total, timeout: 30).map(\.id) == (1...total).map { String($0) })
            #expect(reader.events.filter { $0.data.hasPrefix("small") }.map(\.data) == stride(from: 3, through: total, by: 3).map { "small \($0)" })
            // Caught up: later events are written straight to the socket again, still in order.
            for n in (total + 1)...(total + 20) { try await server.publish(stream: "s", event: ServerSentEvent(data: "after", id: String(n))) }
            #expect(reader.waitForEvents(total + 20).map(\.id) == (1...(total + 20)).map { String($0) })
        }
    }

    @Test(
        "a client that stops reading is dropped with a reason; the fast client gets every event (direct writes on and off)", arguments: [true, false])
    func slowClientDropped(writesDirectly: Bool) async throws {
        try await withSmallWindowReader(maxQueuedBytes: 64 << 10, writesDirectly: writesDirectly) { server, port, log, _ in
            let fast = try await subscribe(server, port: port, stream: "s", expecting: 2)
            let payload = String(repeating: "x", count: 16 << 10)
            let total = 200
            for n in 1...total {
                try await server.publish(stream: "s", event: ServerSentEvent(data: payload, id: String(n)))
                if n % 10 == 0 { fast.read(timeout: 0.01) { false } }
            }
            #expect(fast.waitForEvents(total, timeout: 10).count == total)
            #expect(fast.events.map(\.id) == (1...total).map { String($0) })
            let dropped = log.wait { if case .disconnected(_, "s", let reason) = $0 { reason.hasPrefix("too slow") } else { false } }
            #expect(dropped != nil)
            #expect(try await server.snapshot().streams.first?.clients.count == 1)
        }
    }
}

/// A server without heartbeats and one subscriber to stream `s`, counted by the server: where most
/// fault tests start.
func withSubscriber(_ body: (SSEServer, Int, LogCollector, StreamSubscriber) async throws -> Void) async throws {
    try await withServer { server, port, log in
        try await body(server, port, log, try await subscribe(server, port: port, stream: "s", expecting: 1))
    }
}

/// A server without history or heartbeats that lets a client leave `maxQueuedBytes` unread, and a
/// subscriber to stream `s` with a 4 KiB receive buffer (so the server's socket to it fills soon).
/// `writesDirectly` picks the subscribers' socket writer (see `SocketWriter`).
func withSmallWindowReader(
    maxQueuedBytes: Int, writesDirectly: Bool = true, _ body: (SSEServer, Int, LogCollector, StreamSubscriber) async throws -> Void
) async throws {
    var limits = ServerLimits(maxQueuedBytes: maxQueuedBytes)
    limits.writesDirectly = writesDirectly
    let configuration = ServerConfiguration(streamDefaults: StreamSettings(historySize: 0, heartbeatMilliseconds: 0), limits: limits)
    try await withServer(configuration) { server, port, log in
        let reader = try StreamSubscriber(port: port, path: "/streams/s", receiveBuffer: 4096)
        _ = try reader.waitForHead()
        try await body(server, port, log, reader)
    }
}

@Suite("Server: faults per client, and undoing them", .serialized)
struct FaultScopeTests {
    @Test("a corruption for one client leaves the others' stream intact")
    func corruptOneClient() async throws {
        try await withServer { server, port, _ in
            let victim = try await subscribe(server, port: port, stream: "s", expecting: 1)
            let bystander = try await subscribe(server, port: port, stream: "s", expecting: 2)
            let victimID = try #require(try await server.snapshot().streams.first?.clients.first?.id)
            try await server.corrupt(.client(victimID), .invalidUTF8)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "x"))
            #expect(victim.waitForEvents(1).map(\.data) == ["\u{FFFD}\u{FFFD}x"])
            #expect(bystander.waitForEvents(1).map(\.data) == ["x"])
        }
    }

    @Test("clearing faults ends a stall at once and cancels pending rejections")
    func clearFaults() async throws {
        try await withSubscriber { server, port, _, subscriber in
            try await server.stall(.stream("s"), for: .seconds(60))
            try await server.reject(stream: "s", .status(503), count: 3)
            try await server.publish(stream: "s", event: ServerSentEvent(data: "held"))
            subscriber.read(timeout: 0.2) { false }
            #expect(subscriber.events.isEmpty)
            try await server.clearFaults(.stream("s"))
            #expect(subscriber.waitForEvents(1).map(\.data) == ["held"])
            #expect(try httpRequest(port: port, "GET", "/streams/s").0.status == 200)
        }
    }
}
