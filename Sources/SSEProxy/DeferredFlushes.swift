import NIOCore

/// Sends for the clients written to during one turn of an event loop, done together once the
/// turn's reads are handled, or once `maxBatch` clients wait: a wave of events read from many
/// upstream connections goes out in bursts of writes rather than a read, a write, a read. A reader
/// woken by the first write of a burst finds the rest waiting; written one at a time, it sleeps and
/// is woken again for each, and on a busy machine every such wake-up is dearer than the write
/// itself (scripts/bench/proxy, paced case).
///
/// Invariants: used only on `loop`; what a connection wrote is sent (`ProxyConnection.flushWrites`)
/// before the loop waits for I/O again (NIO runs tasks queued from the loop before its next wait),
/// and sooner, after an upstream read, once `maxBatch` connections are waiting.
final class DeferredFlushes {
    private let loop: EventLoop
    private var connections: [any FlushesWrites] = []
    /// A `flushAll` is queued for the end of this turn.
    private var flushIsQueued = false

    init(loop: EventLoop) { self.loop = loop }

    /// Sends what `connection` wrote at the end of this turn of the loop, or sooner when a batch fills
    /// (`flushIfBatchIsFull`).
    func flushSoon(_ connection: any FlushesWrites) {
        if !flushIsQueued {
            flushIsQueued = true
            loop.assumeIsolated().execute {
                self.flushIsQueued = false
                self.flushAll()
            }
        }
        connections.append(connection)
    }

    /// Sends what the connections waiting wrote now if there are `maxBatch` of them. Called between
    /// two reads (never from inside a connection's write), so that no connection is re-entered.
    func flushIfBatchIsFull() {
        if connections.count >= Self.maxBatch { flushAll() }
    }

    /// The most connections whose sends wait for the end of a turn: past it, they are sent at once.
    /// A turn may read a thousand upstream connections; without a bound the first read's send waits
    /// for all the others' reads. Measured in rounds taking turns with nginx (scripts/bench/proxy's
    /// paced case, 10 rounds a setting): drip's p99 minus nginx's, median of the rounds, was +0.55
    /// and +0.58 ms with no bound, between -0.2 and +0.4 ms with bounds of 8 to 64; sending at once
    /// (a bound of 1) was about 1 ms worse than no bound.
    static let maxBatch = 32

    private func flushAll() {
        let due = connections
        connections.removeAll(keepingCapacity: true)
        for connection in due { connection.flushWrites() }
    }

    /// A place for one per event loop of `group`, each made on its own loop when first asked for (`on`).
    struct PerLoop: Sendable {
        private let boxes: [ObjectIdentifier: NIOLoopBoundBox<DeferredFlushes?>]

        init(group: EventLoopGroup) {
            var boxes: [ObjectIdentifier: NIOLoopBoundBox<DeferredFlushes?>] = [:]
            for loop in group.makeIterator() {
                boxes[ObjectIdentifier(loop)] = .makeEmptyBox(valueType: DeferredFlushes.self, eventLoop: loop)
            }
            self.boxes = boxes
        }

        /// The flushes of `loop`, called on it; a loop not of the group gets flushes of its own.
        func on(_ loop: EventLoop) -> DeferredFlushes {
            guard let box = boxes[ObjectIdentifier(loop)] else { return DeferredFlushes(loop: loop) }
            if let flushes = box.value { return flushes }
            let flushes = DeferredFlushes(loop: loop)
            box.value = flushes
            return flushes
        }
    }
}

/// A connection that holds writes until told to send them (`ProxyConnection`).
protocol FlushesWrites: AnyObject {
    /// Sends what was written since the last call.
    func flushWrites()
}
