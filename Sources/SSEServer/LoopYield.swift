import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs work on an event loop after the loop has polled its sockets again: the way a long fan-out
/// lets requests that arrived meanwhile (a publish) be read before it goes on.
///
/// NIO runs a task scheduled from a task in the same loop turn as soon as it is due, without polling
/// in between, so a short timer does not yield (whether it does depends on how fast the machine is).
/// Here the work waits behind a byte written to a pipe whose other end is a channel of the loop: the
/// loop can only run it by polling, which reads whatever else is ready first, and never sleeps for it.
///
/// Invariants: `yield` and the work run on the loop only; at most one byte is in the pipe at a time.
final class LoopYield {
    private let eventLoop: EventLoop
    private let wakeWrite: CInt
    private var waiting: [() -> Void] = []
    private var signalled = false

    private init(eventLoop: EventLoop, wakeWrite: CInt) {
        self.eventLoop = eventLoop
        self.wakeWrite = wakeWrite
    }

    deinit { _ = close(wakeWrite) }

    /// A yield for `eventLoop`, its pipe's reading end registered there.
    static func make(on eventLoop: EventLoop) -> EventLoopFuture<NIOLoopBound<LoopYield>> {
        let wakeRead: CInt
        let wakeWrite: CInt
        do { (wakeRead, wakeWrite) = try Descriptors.pipe() } catch { return eventLoop.makeFailedFuture(error) }
        return eventLoop.submit { NIOLoopBound(LoopYield(eventLoop: eventLoop, wakeWrite: wakeWrite), eventLoop: eventLoop) }
            .flatMap { yield in
                NIOPipeBootstrap(group: eventLoop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Waker(yield.value)) }
                    }
                    .takingOwnershipOfDescriptor(input: wakeRead)
                    .map { _ in yield }
            }
    }

    /// Runs `work` once the loop has polled its sockets.
    func yield(_ work: @escaping () -> Void) {
        waiting.append(work)
        guard !signalled else { return }
        signalled = true
        var byte: UInt8 = 1
        if write(wakeWrite, &byte, 1) != 1 {
            // The pipe cannot take the byte (it never holds more than one): run the work later in this turn.
            signalled = false
            eventLoop.assumeIsolated().execute { [self] in runWaiting() }
        }
    }

    fileprivate func runWaiting() {
        signalled = false
        let works = waiting
        waiting.removeAll(keepingCapacity: true)
        for work in works { work() }
    }

    /// The pipe's reading end: each byte read means the loop has polled.
    private final class Waker: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let yield: LoopYield

        init(_ yield: LoopYield) { self.yield = yield }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

        func channelReadComplete(context: ChannelHandlerContext) { yield.runWaiting() }
    }
}
