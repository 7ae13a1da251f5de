import EventStream
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SSEClient
import TestSupport
import Testing

@Suite("Client: https", .serialized)
struct TLSTests {
    func run(_ port: Int, _ tls: TLSOptions, host: String = "localhost") async throws -> [ClientEvent] {
        var options = ClientOptions(request: ClientRequest(url: try HTTPURL(parsing: "https://\(host):\(port)/stream")), reconnects: false)
        options.tls = tls
        var seen: [ClientEvent] = []
        await EventSourceClient.run(options) { seen.append($0) }
        return seen
    }

    @Test("a self-signed certificate trusted explicitly: the stream opens and events arrive")
    func trusted() async throws {
        let server = try await TLSStreamServer()
        let seen = try await run(server.port, TLSOptions(trustedCertificateFiles: [server.certificatePath], usesSystemTrustRoots: false))
        #expect(seen.contains(.open(status: 200)))
        #expect(seen.events.map(\.data) == ["over tls"])
        await server.stop()
    }

    @Test("the same certificate without that trust is refused with a TLS error, once")
    func refused() async throws {
        let server = try await TLSStreamServer()
        let seen = try await run(server.port, TLSOptions())
        guard case .closed(let reason, true)? = seen.last else { throw TestFailure("not a failure: \(seen)") }
        #expect(reason.contains("TLS failed"), "\(reason)")
        #expect(!seen.contains { if case .open = $0 { true } else { false } })
        await server.stop()
    }

    @Test("a trusted certificate that lacks the IP address connected to names that address (15.29)")
    func ipLiteralMismatch() async throws {
        let server = try await TLSStreamServer(alternativeNames: "DNS:localhost")
        let seen = try await run(
            server.port, TLSOptions(trustedCertificateFiles: [server.certificatePath], usesSystemTrustRoots: false), host: "127.0.0.1")
        guard case .closed(let reason, true)? = seen.last else { throw TestFailure("not a failure: \(seen)") }
        #expect(reason.contains("the server's certificate is not for the IP address 127.0.0.1"), "\(reason)")
        await server.stop()
    }

    @Test("--insecure skips verification")
    func insecure() async throws {
        let server = try await TLSStreamServer()
        let seen = try await run(server.port, TLSOptions(verifiesCertificates: false))
        #expect(seen.events.map(\.data) == ["over tls"])
        await server.stop()
    }
}
