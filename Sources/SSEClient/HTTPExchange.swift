import NIOCore
import NIOPosix

/// One plain HTTP request and its whole response, over a fresh connection: what a script's `post`
/// and the contract service's callbacks need (not for streams, which `EventSourceClient` reads).
public enum HTTPExchange {
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
    }

    public static func send(
        _ method: String, to url: HTTPURL, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Response {
        guard !url.isSecure else { throw HTTPURLError("\(url) is https; this request speaks http only") }
        let head = try RequestHead(
            method: method, url: url, headers: headers.filter { $0.name.lowercased() != "connection" } + [("Connection", "close")])
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .connect(host: url.host, port: url.port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: head.bytes(contentLength: body.count) + body))
            var reader = HTTPResponseReader()
            var response = Response(status: 0, body: [])
            var done = false
            for try await buffer in inbound {
                try buffer.withUnsafeReadableBytes { bytes in
                    try reader.read(bytes) { event in
                        switch event {
                        case .head(let head): response.status = head.status
                        case .body(let range): response.body += bytes[range]
                        case .end: done = true
                        }
                    }
                }
                if done { break }
            }
            return response
        }
    }
}
