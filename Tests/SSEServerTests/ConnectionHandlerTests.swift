import EventStream
import NIOCore
import NIOEmbedded
import NIOHTTP1
import ScriptClock
import TestSupport
import Testing

@testable import SSEServer

/// The connection handler on an `EmbeddedChannel`: requests in, response bytes out, no sockets, no
/// threads — what routing, limits and answer order do, byte for byte.
@Suite("Server: the connection handler without sockets")
struct ConnectionHandlerTests {
    /// A channel with the server's HTTP pipeline on an embedded loop, active, and what the server logged.
    func channel(_ configuration: ServerConfiguration = ServerConfiguration()) throws -> (EmbeddedChannel, LogCollector) {
        let channel = EmbeddedChannel()
        let log = LogCollector()
        let core = NIOLoopBoundBox(
            ServerCore(eventLoop: channel.eventLoop, configuration: configuration, timeScale: TimeScale(), log: { log.record($0) }),
            eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try channel.pipeline.syncOperations.addHandler(HTTPConnectionHandler(core: core, writer: .pipeline))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return (channel, log)
    }

    /// Everything the handler wrote so far, as text.
    func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test("an unknown path is 404, a stream name that is not one is 400, and the connection serves the next request")
    func routing() throws {
        let (channel, _) = try channel()
        try channel.writeInbound(ByteBuffer(string: "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"))
        let first = try written(channel)
        #expect(first.hasPrefix("HTTP/1.1 404"), "\(first)")
        try channel.writeInbound(ByteBuffer(string: "GET /streams/%zz HTTP/1.1\r\nHost: x\r\n\r\n"))
        let second = try written(channel)
        #expect(second.hasPrefix("HTTP/1.1 400"), "\(second)")
        #expect(channel.isActive)
        _ = try? channel.finish()
    }

    @Test("two publishes in one read are answered in order, each 200 with its id")
    func pipelinedPublishes() throws {
        let (channel, _) = try channel()
        let one = "POST /streams/news?id=a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
        let two = "POST /streams/news?id=b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"
        try channel.writeInbound(ByteBuffer(string: one + two))
        let answers = try written(channel)
        let ids = answers.matches(of: /"id":"([ab])"/).map { String($0.1) }
        #expect(ids == ["a", "b"], "\(answers)")
        #expect(answers.components(separatedBy: "HTTP/1.1 200").count == 3)
        _ = try? channel.finish()
    }
}
