import NIOCore

/// Drops the bytes a subscribed HTTP/1.x connection still sends, in place of the request decoder it
/// no longer needs (see `HTTPConnectionHandler.shedRequestDecoder`): nothing is parsed or held.
final class IgnoredInput: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
