import NIOCore
import NIOHTTP1

/// Carries one HTTP/1.1 exchange as bytes over an HTTP/2 stream, on the client side: the request
/// bytes the client writes (`RequestHead`, then a body of its `Content-Length`) become request parts,
/// and the response parts come back as HTTP/1.1 bytes with a chunked body, so `HTTPResponseReader`
/// reads them as any response. A stream reset arrives as an error, before the last chunk: a cut stream.
///
/// Invariants: connection-specific headers (RFC 9113 §8.2.2) never reach the stream; the request is
/// sent once, when its head and whole body have been written.
final class HTTP2ClientStreamAdapter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPClientRequestPart

    private static let connectionSpecific: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"]
    private var request = ByteBuffer()
    private var sent = false
    private var bodyIsChunked = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !sent else { return promise?.succeed() ?? () }
        var bytes = unwrapOutboundIn(data)
        request.writeBuffer(&bytes)
        let view = request.readableBytesView
        guard let headEnd = view.firstRange(of: [13, 10, 13, 10]) else { return promise?.succeed() ?? () }
        let text = String(decoding: view[view.startIndex..<headEnd.lowerBound], as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else {
            promise?.fail(ChannelError.inappropriateOperationForState)
            return
        }
        var headers = HTTPHeaders()
        var length = 0
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...].drop { $0 == " " })
            if name.lowercased() == "content-length" { length = Int(value) ?? 0 }
            if !Self.connectionSpecific.contains(name.lowercased()) { headers.add(name: name, value: value) }
        }
        let bodyStart = headEnd.upperBound - view.startIndex
        guard request.readableBytes - bodyStart >= length else { return promise?.succeed() ?? () }
        sent = true
        let head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: String(requestLine[0])), uri: String(requestLine[1]), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if length > 0, let body = request.getSlice(at: request.readerIndex + bodyStart, length: length) {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
        request = ByteBuffer()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = context.channel.allocator.buffer(capacity: 256)
        switch unwrapInboundIn(data) {
        case .head(let head):
            bytes.writeString("HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)\r\n")
            for (name, value) in head.headers where !Self.connectionSpecific.contains(name.lowercased()) && name.lowercased() != "content-length" {
                bytes.writeString("\(name): \(value)\r\n")
            }
            let hasBody = head.status.code >= 200 && head.status.code != 204 && head.status.code != 304
            bodyIsChunked = hasBody
            bytes.writeString(hasBody ? "Transfer-Encoding: chunked\r\n\r\n" : "Content-Length: 0\r\n\r\n")
        case .body(let body):
            guard bodyIsChunked, body.readableBytes > 0 else { return }
            bytes.writeString(String(body.readableBytes, radix: 16))
            bytes.writeStaticString("\r\n")
            bytes.writeImmutableBuffer(body)
            bytes.writeStaticString("\r\n")
        case .end:
            guard bodyIsChunked else { return }
            bytes.writeStaticString("0\r\n\r\n")
        }
        context.fireChannelRead(wrapInboundOut(bytes))
    }
}
