import EventStream
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SSEClient
import TestSupport
import Testing

/// A local https server with a self-signed certificate made for the test by `openssl`: it answers
/// every request with one event, then closes.
final class TLSStreamServer {
    let directory: URL
    let port: Int
    private let channel: Channel

    /// `alternativeNames` are the certificate's subject alternative names.
    init(alternativeNames: String = "DNS:localhost,IP:127.0.0.1") async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("drip-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=\(alternativeNames)",
            "-keyout", directory.appendingPathComponent("key.pem").path, "-out", directory.appendingPathComponent("cert.pem").path,
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw TestFailure("openssl could not make a certificate") }
        let certificates = try NIOSSLCertificate.fromPEMFile(directory.appendingPathComponent("cert.pem").path)
        let key = try NIOSSLPrivateKey(file: directory.appendingPathComponent("key.pem").path, format: .pem)
        let context = try NIOSSLContext(
            configuration: .makeServerConfiguration(certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key)))
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(OneEventResponder())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    var certificatePath: String { directory.appendingPathComponent("cert.pem").path }

    func stop() async {
        try? await channel.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Answers the first request bytes with an event stream of one event, then a clean close.
    final class OneEventResponder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var answered = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !answered else { return }
            answered = true
            let response = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nid: 1\ndata: over tls\n\n"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }
}

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
