import NIOCore
import SSEServer

/// Writing an answer's body downstream: at once, or — while a pacing fault (stall, delay, chunk) is
/// active — through the server's own `PacingQueue`, which decides what may be written when; the
/// connection carries out its steps and wakes itself up at the deadlines it names. An end of the
/// answer (the upstream's, or `drop after=`) waits until what is queued before it has been written.
extension ProxyConnection {
    /// Sends `body` (bytes of the answer, not yet framed) now, or after what is queued.
    func sendBody(_ body: ByteBuffer) {
        if pacingQueue.isEmpty, pacing.isEmpty { return writeFramed(body) }
        let now = NIODeadline.now()
        if pacingQueue.isEmpty, !pacing.isActive(at: now) { return writeFramed(body) }
        pacingQueue.enqueue(Frame(body, isEvent: false, allocator: downstream.allocator), now: now, pacing: pacing)
        if pacingQueue.queuedBytes > core.limits.maxQueuedBytes {
            return drop(.truncate, reason: "over \(core.limits.maxQueuedBytes) bytes held back by faults for a client")
        }
        drainPacingQueue()
    }

    /// Runs `action` once everything queued has been written (at once when nothing is).
    func whenDrained(_ action: @escaping () -> Void) {
        guard !pacingQueue.isEmpty else { return action() }
        afterDrain = action
    }

    /// Changes the pacing (a fault given now) and writes what it allows.
    func changePacing(_ change: (inout Pacing) -> Void) {
        change(&pacing)
        scheduledPump?.cancel()
        scheduledPump = nil
        drainPacingQueue()
    }

    /// Forgets what is queued (the connection is ending now).
    func discardPacingQueue() {
        scheduledPump?.cancel()
        scheduledPump = nil
        pacingQueue.removeAll()
        afterDrain = nil
    }

    private func drainPacingQueue() {
        guard scheduledPump == nil else { return }
        let now = NIODeadline.now()
        while true {
            switch pacingQueue.next(now: now, pacing: pacing) {
            case .empty:
                if let action = afterDrain {
                    afterDrain = nil
                    action()
                }
                return
            case .wait(let deadline):
                return schedulePump(at: deadline)
            case .frame(let frame):
                writeFramed(frame.bytes)
            case .piece(let piece, _, _, let nextAt):
                writeFramed(piece)
                if let nextAt { return schedulePump(at: nextAt) }
            }
        }
    }

    private func schedulePump(at deadline: NIODeadline) {
        let bound = NIOLoopBound(self, eventLoop: downstream.eventLoop)
        scheduledPump = downstream.eventLoop.scheduleTask(deadline: deadline) {
            bound.value.scheduledPump = nil
            bound.value.drainPacingQueue()
        }
    }

    /// Writes body bytes in the answer's framing: as one chunk, or as they are.
    func writeFramed(_ body: ByteBuffer) {
        guard !isFinished else { return }
        write(framing == .chunked ? HTTPResponse.chunk(body, allocator: downstream.allocator) : body)
    }
}
