import NIOCore

/// Write pacing for faults: hold everything until a deadline, add latency per frame, or split frames
/// into small pieces written apart in time.
package struct Pacing: Hashable {
    package var stalledUntil: NIODeadline?
    package var delay: TimeAmount?
    package var chunkSize: Int?
    package var chunkInterval: TimeAmount

    package init(stalledUntil: NIODeadline? = nil, delay: TimeAmount? = nil, chunkSize: Int? = nil, chunkInterval: TimeAmount = .milliseconds(10)) {
        self.stalledUntil = stalledUntil
        self.delay = delay
        self.chunkSize = chunkSize
        self.chunkInterval = chunkInterval
    }

    /// No pacing fault set at all (the common case, checked without reading the clock).
    package var isEmpty: Bool { stalledUntil == nil && delay == nil && chunkSize == nil }

    package func isActive(at now: NIODeadline) -> Bool {
        (stalledUntil.map { $0 > now } ?? false) || delay != nil || chunkSize != nil
    }

    /// `self` (a stream's pacing) with a client's own on top: the later stall, the client's delay
    /// and chunking when it has them.
    package func combined(with own: Pacing) -> Pacing {
        var result = self
        if let until = own.stalledUntil, until > (result.stalledUntil ?? .uptimeNanoseconds(0)) { result.stalledUntil = until }
        if let delay = own.delay { result.delay = delay }
        if let size = own.chunkSize {
            result.chunkSize = size
            result.chunkInterval = own.chunkInterval
        }
        return result
    }
}

/// The frames a subscriber holds back while a pacing fault is active, and what to write next: a
/// pure state machine that takes `now` and the pacing, and returns one step at a time for the
/// subscriber to carry out (write, or wake up at a deadline). Tests drive it without sleeping.
///
/// Invariants: frames leave in the order they came, each whole or as consecutive pieces of at most
/// the chunk size; `queuedBytes` is the event-stream bytes of the frames not yet fully written.
package struct PacingQueue {
    /// What to do next.
    package enum Step: Equatable {
        /// Nothing is queued.
        case empty
        /// Write this whole frame (the subscriber frames it for its connection).
        case frame(Frame)
        /// Write this piece of the head frame; `completes` when it is the frame's last piece, and
        /// `nextAt` when more is queued and the next piece must wait for the chunk interval.
        case piece(ByteBuffer, of: Frame, completes: Bool, nextAt: NIODeadline?)
        /// Nothing may be written before this deadline.
        case wait(until: NIODeadline)
    }

    private var entries: [(frame: Frame, notBefore: NIODeadline)] = []
    private var head = 0
    /// Bytes of the head frame already written when it is being written in pieces.
    private var headOffset = 0
    package private(set) var queuedBytes = 0

    package init() {}

    package var isEmpty: Bool { head == entries.count }

    /// Queues `frame`, to be written no sooner than `now` plus the pacing's delay.
    package mutating func enqueue(_ frame: Frame, now: NIODeadline, pacing: Pacing) {
        entries.append((frame, now + (pacing.delay ?? .zero)))
        queuedBytes += frame.bytes.readableBytes
    }

    /// The next step at `now` under `pacing`; a step that writes takes its bytes off the queue.
    package mutating func next(now: NIODeadline, pacing: Pacing) -> Step {
        guard head < entries.count else { return .empty }
        let (frame, notBefore) = entries[head]
        if let until = pacing.stalledUntil, until > now { return .wait(until: until) }
        if notBefore > now { return .wait(until: notBefore) }
        guard let size = pacing.chunkSize else {
            popHead()
            return .frame(frame)
        }
        let length = min(size, frame.bytes.readableBytes - headOffset)
        guard let piece = frame.bytes.getSlice(at: frame.bytes.readerIndex + headOffset, length: length) else {
            popHead()
            return .empty
        }
        headOffset += length
        let completes = headOffset == frame.bytes.readableBytes
        if completes { popHead() }
        return .piece(piece, of: frame, completes: completes, nextAt: isEmpty ? nil : now + pacing.chunkInterval)
    }

    package mutating func removeAll() {
        entries.removeAll()
        head = 0
        headOffset = 0
        queuedBytes = 0
    }

    private mutating func popHead() {
        queuedBytes -= entries[head].frame.bytes.readableBytes
        headOffset = 0
        head += 1
        if head == entries.count {
            entries.removeAll(keepingCapacity: entries.capacity <= 64)
            head = 0
        }
    }
}
