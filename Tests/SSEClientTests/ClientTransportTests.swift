import Foundation
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
        let allocator = try await Self.option(.recvAllocator) { $0.maximumReadSize = asked } as? AdaptiveRecvByteBufferAllocator
        #expect(allocator?.initial == 2048)
        #expect(allocator?.maximum == expected)
    }

    @Test(
        "a server on this machine gets an 8 MiB receive buffer when asked for and the system grants it (net.core.rmem_max), else autotuning's",
        arguments: [("127.0.0.1", true), ("localhost", true), ("127.0.0.1", false)])
    func localReceiveBuffer(host: String, fixes: Bool) async throws {
        let buffer = try await Self.option(.socketOption(.so_rcvbuf), host: host) { $0.fixesLocalReceiveBuffer = fixes }
        // The system's own answer, read apart from the probe the client makes: Linux grants up to
        // rmem_max and reports twice what it grants.
        let rmemMax = try String(contentsOfFile: "/proc/sys/net/core/rmem_max", encoding: .utf8)
        let granted = (Int(rmemMax.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= Int(LocalReceiveBuffer.size)
        #expect(LocalReceiveBuffer.isGranted == granted)
        if fixes && granted {
            #expect(buffer == 2 * LocalReceiveBuffer.size)
        } else {
            #expect(buffer != 2 * LocalReceiveBuffer.size)
        }
    }

    @Test("which hosts are this machine: IPv4 loopback literals, ::1 and localhost, nothing that only starts like them")
    func localHosts() {
        for host in ["127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "localhost", "LocalHost", "LOCALHOST"] {
            #expect(LocalReceiveBuffer.isLocal(host: host), "\(host)")
        }
        for host in [
            "128.0.0.1", "127.0.0.256", "127.0.0", "127.0.0.1.example.com", "127.example", "localhost.example", "localhosT2", "lOcalhos", "::2",
            "10.0.0.1", "",
        ] {
            #expect(!LocalReceiveBuffer.isLocal(host: host), "\(host)")
        }
    }

    /// `option` of a connection, made with `configure`'s options to `host` (a server that holds it).
    private static func option<Option: ChannelOption>(
        _ option: Option, host: String = "127.0.0.1", _ configure: (inout ClientOptions) -> Void
    ) async throws -> Option.Value {
        let server = try ScriptedServer([[.hold]])
        defer { server.stop() }
        var options = ClientOptions(request: ClientRequest(url: try HTTPURL(parsing: "http://\(host):\(server.port)/")))
        configure(&options)
        let channel = try await ClientTransport.connect(to: options.request.url, options: options, group: MultiThreadedEventLoopGroup.singleton)
        return try await channel.executeThenClose { _, _ in try await channel.channel.getOption(option).get() }
    }
}
