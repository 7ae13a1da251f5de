import NIOPosix
import SSEClient
import TestSupport
import Testing

@testable import Workbench

@Suite("drip connect's tool")
struct ConnectToolTests {
    @Test("run reads on the loop startLoop started ahead, and starts its own when none was", .timeLimit(.minutes(1)))
    func loopStartedAhead() async throws {
        let server = try ScriptedServer([[.send("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"), .close]])
        defer { server.stop() }
        let url = try HTTPURL(parsing: "http://127.0.0.1:\(server.port)/events")
        let tool = ConnectTool(options: ClientOptions(request: ClientRequest(url: url), reconnects: false), style: ClientOutputStyle(json: true))
        ConnectTool.startLoop()
        ConnectTool.startLoop()  // a second start before a run is the same loop
        #expect(await tool.run() == 0)
        #expect(await tool.run() == 0)
        #expect(server.requests.count == 2)
    }

    @Test("the group started ahead is the one the next take gets (two starts make one); a take with none started makes its own")
    func earlyLoopHandsOverItsGroup() async throws {
        let made = Collector<ObjectIdentifier>()
        let early = EarlyLoop {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            made.record(ObjectIdentifier(group))
            return group
        }
        early.start()
        early.start()
        let first = early.take()
        #expect(made.all == [ObjectIdentifier(first)])
        let second = early.take()
        #expect(made.all == [ObjectIdentifier(first), ObjectIdentifier(second)])
        try await first.shutdownGracefully()
        try await second.shutdownGracefully()
    }
}
