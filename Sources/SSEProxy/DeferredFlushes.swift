import NIOCore

/// Sends for the clients written to during one turn of an event loop, done together once the
/// turn's reads are handled: a wave of events read from many upstream connections goes out as one
/// burst of writes rather than a read, a write, a read. A reader woken by the first write of a burst
/// finds the rest waiting; written one at a time, it sleeps and is woken again for each, and on a
/// busy machine every such wake-up is dearer than the write itself (scripts/bench/proxy, paced case).
///
/// Invariants: used only on `loop`; what a connection wrote is sent (`ProxyConnection.flushWrites`)
/// before the loop waits for I/O again (NIO runs tasks queued from the loop before its next wait).
final class DeferredFlushes {
    private let loop: EventLoop
    private var connections: [ProxyConnection] = []

    init(loop: EventLoop) { self.loop = loop }

    /// Sends what `connection` wrote at the end of this turn of the loop.
    func flushSoon(_ connection: ProxyConnection) {
        if connections.isEmpty {
            loop.assumeIsolated().execute { self.flushAll() }
        }
        connections.append(connection)
    }

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
