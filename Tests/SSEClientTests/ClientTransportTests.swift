import NIOCore
import NIOPosix
import TestSupport
import Testing

@testable import SSEClient

@Suite("Client transport: the socket options a connection is made with")
struct ClientTransportTests {
    @Test(
        "reads grow to the options' maximum read size (a power of two, 2 KiB to 1 GiB), from 2 KiB",
        arguments: [
            (ClientOptions.defaultMaximumReadSize, 128 << 10), (512 << 10, 512 << 10), (300_000, 512 << 10), (0, 2048), (-1, 2048),
            (Int.max, 1 << 30),
        ])
    func readSize(asked: Int, expected: Int) async throws {
        let server = try ScriptedServer([[.hold]])
        defer { server.stop() }
        var options = ClientOptions(request: ClientRequest(url: try HTTPURL(parsing: "http://127.0.0.1:\(server.port)/")))
        options.maximumReadSize = asked
        let channel = try await ClientTransport.connect(to: options.request.url, options: options, group: MultiThreadedEventLoopGroup.singleton)
        let allocator = try await channel.executeThenClose { _, _ in
            try await channel.channel.getOption(.recvAllocator).get() as? AdaptiveRecvByteBufferAllocator
        }
        #expect(allocator?.initial == 2048)
        #expect(allocator?.maximum == expected)
    }
}
