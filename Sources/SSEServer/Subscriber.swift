import NIOCore
import NIOHTTP2
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One encoded event (or comment, or retry field) ready to be written: the event-stream bytes, and the
/// same bytes framed as an HTTP/1.1 chunk, both shared by every subscriber that gets them.
package struct Frame: Equatable {
    package let bytes: ByteBuffer
    package let chunk: ByteBuffer
    /// Whether this frame is an event (counted in `eventsSent`) rather than a comment or retry.
    package let isEvent: Bool

    package init(_ bytes: ByteBuffer, isEvent: Bool, allocator: ByteBufferAllocator) {
        self.bytes = bytes
        self.chunk = HTTPResponse.chunk(bytes, allocator: allocator)
        self.isEvent = isEvent
    }
}

/// A client subscribed to one stream: the connection's context and the queue of frames not yet written.
///
/// Invariant: used only on the server's event loop. Frames are written in order; while any pacing
/// fault is active they pass through `queue`, whose size counts toward the slow-client limit.
final class Subscriber: FanOutRecipient, Slotted {
    /// Where it is in its stream's `SlotSet` (-1: not subscribed).
    var slot = -1
    let id: Int
    let streamName: String
    /// The stream, held strongly: the core drops its reference to this subscriber when the
    /// connection closes, which ends the cycle stream → subscribers → subscriber → stream.
    private let stream: StreamState
    /// Strong for the same reason; this subscriber is forgotten by the core when it closes.
    private let core: ServerCore
    private let channelRef: Channel
    private let maxQueuedBytes: Int
    let remote: String
    let connectedAt: Double
    let usesChunkedFraming: Bool
    let transport: Transport
    private let context: ChannelHandlerContext
    private(set) var eventsSent = 0
    /// When an event was last written (or the subscription began): the idle timeout's reference.
    private(set) var lastEventAt = NIODeadline.now()
    private(set) var isClosed = false
    /// Why the connection ended, when the server ended it; otherwise the peer did.
    var closeReason: String?
    var pacing = Pacing()
    /// Malformations for this client's next events, applied one per event.
    var corruptions: [Corruption] = []

    /// Frames held back by pacing faults (see `PacingQueue`).
    private var queue = PacingQueue()
    private var scheduledPump: Scheduled<Void>?
    /// How far this subscriber is in its stream's broadcasts (see `ServerCore.broadcast`).
    var deliveredSequence = 0
    /// While `deliver` writes several frames: they gather in `batch` and go out together at its end.
    private var isDelivering = false
    private var batch: [ByteBuffer] = []
    /// How frames reach the socket. With a direct writer, while nothing of this subscriber's waits in
    /// NIO's buffer, frames are written straight to the socket: one system call and none of the
    /// pipeline's bookkeeping, so a fan-out to thousands costs little more than the kernel's work.
    /// What the socket does not take at once goes through NIO, and so does everything after it until
    /// NIO has written it all, so bytes stay in order (and NIO's watermark still finds a client too
    /// slow to read).
    private let writer: SocketWriter
    /// Writes handed to NIO whose promises have not completed.
    private var writesInNIO = 0

    init(
        id: Int, stream: StreamState, remote: String, connectedAt: Double, usesChunkedFraming: Bool, transport: Transport,
        context: ChannelHandlerContext, writer: SocketWriter, core: ServerCore
    ) {
        self.writer = writer
        self.transport = transport
        self.id = id
        self.streamName = stream.name
        self.stream = stream
        self.channelRef = context.channel
        self.maxQueuedBytes = core.configuration.limits.maxQueuedBytes
        self.remote = remote
        self.connectedAt = connectedAt
        self.usesChunkedFraming = usesChunkedFraming
        self.context = context
        self.core = core
    }

    var channel: Channel { channelRef }

    /// Writes the response head right away, ahead of any pacing. It goes through NIO, after whatever
    /// an earlier response on this connection left there; direct writes start once it is out.
    func writeHead(_ head: ByteBuffer) {
        writeThroughNIO(head)
        context.flush()
    }

    /// Sends `frame` now, or after what is queued when a pacing fault is active.
    func send(_ frame: Frame) {
        guard !isClosed else { return }
        if frame.isEvent, !corruptions.isEmpty {
            let corrupted = corruptions.removeFirst().apply(to: Array(frame.bytes.readableBytesView))
            return send(Frame(ByteBuffer(bytes: corrupted), isEvent: true, allocator: channel.allocator))
        }
        if queue.isEmpty, pacing.isEmpty, stream.pacing.isEmpty {
            write(usesChunkedFraming ? frame.chunk : frame.bytes, countsAsEvent: frame.isEvent)
            return
        }
        let now = NIODeadline.now()
        let effective = stream.pacing.combined(with: pacing)
        if queue.isEmpty, !effective.isActive(at: now) {
            write(usesChunkedFraming ? frame.chunk : frame.bytes, countsAsEvent: frame.isEvent)
            return
        }
        queue.enqueue(frame, now: now, pacing: effective)
        if queue.queuedBytes > maxQueuedBytes {
            return drop(.reset, reason: "too slow: \(queue.queuedBytes) bytes queued by faults (limit \(maxQueuedBytes))")
        }
        drain()
    }

    /// Writes queued frames as far as pacing allows now (the pacing may just have changed), and
    /// schedules itself for the rest.
    func pump() {
        scheduledPump?.cancel()
        scheduledPump = nil
        drain()
    }

    /// Carries out the pacing queue's steps until it says to wait (scheduling a wake-up) or is empty.
    private func drain() {
        guard !isClosed, scheduledPump == nil else { return }
        let now = NIODeadline.now()
        let effective = stream.pacing.combined(with: pacing)
        while !isClosed {
            switch queue.next(now: now, pacing: effective) {
            case .empty:
                return
            case .wait(let deadline):
                return schedulePump(at: deadline)
            case .frame(let frame):
                write(usesChunkedFraming ? frame.chunk : frame.bytes, countsAsEvent: frame.isEvent)
            case .piece(let piece, let frame, let completes, let nextAt):
                write(usesChunkedFraming ? HTTPResponse.chunk(piece, allocator: channel.allocator) : piece, countsAsEvent: completes && frame.isEvent)
                if let nextAt, !isClosed { return schedulePump(at: nextAt) }
            }
        }
    }

    private func schedulePump(at deadline: NIODeadline) {
        scheduledPump = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            scheduledPump = nil
            drain()
        }
    }

    /// Sends `frames` in order with one system call: several events, one write.
    func deliver<Frames: Sequence<Frame>>(_ frames: Frames) {
        isDelivering = true
        for frame in frames { send(frame) }
        isDelivering = false
        guard !isClosed, let gathered = takeBatch() else { return }
        transmit(gathered)
    }

    /// Writes `bytes` now, unless `deliver` is gathering them for its end.
    private func write(_ bytes: ByteBuffer, countsAsEvent: Bool) {
        if countsAsEvent {
            eventsSent += 1
            lastEventAt = .now()
        }
        if isDelivering { batch.append(bytes) } else { transmit(bytes) }
    }

    /// What `deliver` gathered, as one buffer; nil when nothing.
    private func takeBatch() -> ByteBuffer? {
        guard let first = batch.first else { return nil }
        defer { batch.removeAll(keepingCapacity: batch.capacity <= 16) }
        guard batch.count > 1 else { return first }
        var joined = channelRef.allocator.buffer(capacity: batch.reduce(0) { $0 + $1.readableBytes })
        for buffer in batch { joined.writeImmutableBuffer(buffer) }
        return joined
    }

    /// Writes `bytes` straight to the socket when nothing waits in NIO, and whatever the socket does
    /// not take (all of it on an error, which NIO then meets and reports) through NIO.
    private func transmit(_ bytes: ByteBuffer) {
        var rest = bytes
        if writer.isDirect, writesInNIO == 0, channelRef.isActive {
            let written = writer.sendDirectly(bytes)
            if written == bytes.readableBytes { return }
            rest.moveReaderIndex(forwardBy: written)
        }
        writeThroughNIO(rest)
        context.flush()
        checkWritable()
    }

    private func writeThroughNIO(_ bytes: ByteBuffer) {
        writesInNIO += 1
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { [self] _ in writesInNIO -= 1 }
        context.write(NIOAny(bytes), promise: written)
    }

    private func checkWritable() {
        if !channelRef.isWritable {
            drop(.reset, reason: "too slow: it stopped reading and more than \(maxQueuedBytes) bytes are queued")
        }
    }

    /// Ends the connection on purpose, with `reason` for the log.
    func drop(_ mode: DropMode, reason: String) {
        guard !isClosed else { return }
        isClosed = true
        closeReason = reason
        scheduledPump?.cancel()
        scheduledPump = nil
        queue.removeAll()
        if isDelivering, let gathered = takeBatch() { transmit(gathered) }
        switch mode {
        case .clean:
            if usesChunkedFraming {
                context.writeAndFlush(NIOAny(HTTPResponse.lastChunk(allocator: channel.allocator)), promise: nil)
            } else if transport.http2StreamID != nil {
                // An HTTP/2 stream's body is written unframed; closing its output is its END_STREAM.
                context.flush()
                return context.close(mode: .output, promise: nil)
            }
            context.close(promise: nil)
        case .truncate, .stream:
            context.close(promise: nil)
        case .connection:
            guard let connection = channel.parent else { return context.close(promise: nil) }
            // Every stream of the connection breaks: GOAWAY (no stream after the last one opened
            // will be served) and the connection closed; each sibling's subscriber then leaves.
            let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil))
            connection.writeAndFlush(goAway).whenComplete { _ in connection.close(promise: nil) }
        case .reset:
            let channel = self.channel
            if let provider = channel as? SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        }
    }
}
