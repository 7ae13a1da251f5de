import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Sits between NIO's HTTP/2-to-HTTP/1 codec and `HTTPConnectionHandler` on one HTTP/2 stream: the
/// handler writes the HTTP/1.1 bytes it writes on any connection, and this turns them back into
/// response parts (`ResponseUnframer`), so routes, subscriptions and faults are the same code on
/// HTTP/1.1 and HTTP/2.
///
/// Invariants: a response that ended (its last chunk written, or its unframed body's output closed)
/// ends the stream with END_STREAM; a close asked for after that lets the stream close by itself
/// when the request ended too, and waits until the end has been written otherwise; a close before
/// the end resets the stream (RST_STREAM); one request per stream (HTTP/2 has no second head).
final class HTTP2StreamAdapter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPServerResponsePart

    private var unframer = ResponseUnframer()
    /// The write of the response's end, once made: a close waits for it.
    private var endWritten: EventLoopFuture<Void>?
    /// The client ended its request (END_STREAM): once the response ends too, the stream is closed.
    private var requestEnded = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head) where head.method == .HEAD: unframer = ResponseUnframer(answersHEAD: true)
        case .end: requestEnded = true
        default: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let parts = unframer.feed(unwrapOutboundIn(data))
        guard let last = parts.last else {
            if unframer.isFinished, endWritten == nil {
                // An unreadable response (never written by this server): the stream is reset.
                promise?.fail(ChannelError.ioOnClosedChannel)
                context.close(promise: nil)
            } else {
                promise?.succeed()
            }
            return
        }
        for part in parts.dropLast() { context.write(wrapOutboundOut(Self.responsePart(part)), promise: nil) }
        let written = context.write(wrapOutboundOut(Self.responsePart(last)))
        if last == .end { endWritten = written }
        written.cascade(to: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // Closing the output ends an unframed body (an event stream's clean end): END_STREAM.
        if mode == .output, endWritten == nil, let end = unframer.finishAtClose() {
            endWritten = context.writeAndFlush(wrapOutboundOut(Self.responsePart(end)))
        }
        guard let endWritten else {
            context.close(mode: mode, promise: promise)
            return
        }
        context.flush()
        if requestEnded {
            // Both sides ended: the stream closes by itself once the end is out. Closing it here
            // could overtake that end and reset a stream that finished well.
            context.channel.closeFuture.cascade(to: promise)
            return
        }
        endWritten.assumeIsolated().whenComplete { _ in context.close(mode: mode, promise: promise) }
    }

    private static func responsePart(_ part: ResponseUnframer.Part) -> HTTPServerResponsePart {
        switch part {
        case .head(let head): .head(head)
        case .body(let bytes): .body(.byteBuffer(bytes))
        case .end: .end(nil)
        }
    }
}
