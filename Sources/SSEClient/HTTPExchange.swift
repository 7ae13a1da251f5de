import EventStream
import NIOCore
import NIOPosix

/// One HTTP request and its whole response, over a fresh connection (https with `tls`, HTTP/2 when
/// the server offers it, through `ClientTransport`): what a script's `post` and the contract
/// service's callbacks need (not for streams, which `EventSourceClient` reads).
public enum HTTPExchange {
    /// A whole answer: its status and its body (at most the exchange's response limit).
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
    }

    /// Bounds on one exchange: the largest response body kept, and how long the whole exchange
    /// (connecting, sending, the answer to its end) may take.
    public struct Limits: Sendable, Hashable {
        public var maxResponseSize: Int
        public var timeout: Duration

        public init(maxResponseSize: Int = 1 << 20, timeout: Duration = .seconds(30)) {
            self.maxResponseSize = maxResponseSize
            self.timeout = timeout
        }
    }

    /// The answer broke one of the `Limits`; the message names it.
    public struct LimitExceeded: Error, CustomStringConvertible {
        public let description: String
    }

    public static func send(
        _ method: String, to url: HTTPURL, headers: [(name: String, value: String)] = [], body: [UInt8] = [], limits: Limits = Limits(),
        tls: TLSOptions = TLSOptions(), group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Response {
        let head = try RequestHead(
            method: method, url: url, headers: headers.filter { $0.name.lowercased() != "connection" } + [("Connection", "close")])
        let timeout = TimeAmount.nanoseconds(limits.timeout.clampedNanoseconds)
        var options = ClientOptions(request: ClientRequest(url: url), connectTimeout: min(limits.timeout, .seconds(10)))
        options.tls = tls
        let channel = try await ClientTransport.connect(to: url, options: options, group: group)
        let late = LimitExceeded(description: "no complete answer within \(DurationValue(clampingMilliseconds: limits.timeout.clampedMilliseconds))")
        let deadline = channel.channel.eventLoop.scheduleTask(in: timeout) { [channel = channel.channel] in
            channel.pipeline.fireErrorCaught(late)
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        let response = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: head.bytes(contentLength: body.count) + body))
            var reader = HTTPResponseReader()
            var response = Response(status: 0, body: [])
            var done = false
            var tooLarge = false
            for try await buffer in inbound {
                try buffer.withUnsafeReadableBytes { bytes in
                    try reader.read(bytes) { event in
                        switch event {
                        case .head(let head): response.status = head.status
                        case .body(let range):
                            if response.body.count + range.count > limits.maxResponseSize { tooLarge = true }
                            if !tooLarge { response.body += bytes[range] }
                        case .end: done = true
                        }
                    }
                }
                if tooLarge {
                    throw LimitExceeded(description: "the response body is larger than the limit of \(limits.maxResponseSize) bytes")
                }
                if done { break }
            }
            return (response, done)
        }
        guard response.1 else { throw LimitExceeded(description: "the server closed the connection before the answer was complete") }
        return response.0
    }
}
