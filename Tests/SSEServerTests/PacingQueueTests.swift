import NIOCore
import Testing

@testable import SSEServer

/// The pacing queue driven by hand with an injected `now`: stalls, delays and chunk intervals checked
/// without sleeping.
@Suite("Server: the pacing queue, without sleeping")
struct PacingQueueTests {
    let allocator = ByteBufferAllocator()
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func frame(_ text: String, isEvent: Bool = true) -> Frame { Frame(ByteBuffer(string: text), isEvent: isEvent, allocator: allocator) }

    @Test("a stall holds every frame until its deadline, then they leave whole and in order")
    func stall() {
        var queue = PacingQueue()
        let pacing = Pacing(stalledUntil: start + .milliseconds(600))
        queue.enqueue(frame("data: 1\n\n"), now: start, pacing: pacing)
        queue.enqueue(frame("data: 2\n\n"), now: start + .milliseconds(100), pacing: pacing)
        #expect(queue.queuedBytes == 18)
        #expect(queue.next(now: start + .milliseconds(599), pacing: pacing) == .wait(until: start + .milliseconds(600)))
        #expect(queue.next(now: start + .milliseconds(600), pacing: pacing) == .frame(frame("data: 1\n\n")))
        #expect(queue.next(now: start + .milliseconds(600), pacing: pacing) == .frame(frame("data: 2\n\n")))
        #expect(queue.next(now: start + .milliseconds(600), pacing: pacing) == .empty)
        #expect(queue.queuedBytes == 0)
    }

    @Test("a delay holds each frame for the delay from when it was queued, not from the one before")
    func delay() {
        var queue = PacingQueue()
        let pacing = Pacing(delay: .milliseconds(200))
        queue.enqueue(frame("data: a\n\n"), now: start, pacing: pacing)
        queue.enqueue(frame("data: b\n\n"), now: start + .milliseconds(50), pacing: pacing)
        #expect(queue.next(now: start + .milliseconds(199), pacing: pacing) == .wait(until: start + .milliseconds(200)))
        #expect(queue.next(now: start + .milliseconds(200), pacing: pacing) == .frame(frame("data: a\n\n")))
        #expect(queue.next(now: start + .milliseconds(200), pacing: pacing) == .wait(until: start + .milliseconds(250)))
        #expect(queue.next(now: start + .milliseconds(250), pacing: pacing) == .frame(frame("data: b\n\n")))
    }

    @Test("chunking writes pieces of at most N bytes, the interval between them, the last piece completing the frame")
    func chunks() {
        var queue = PacingQueue()
        let pacing = Pacing(chunkSize: 4, chunkInterval: .milliseconds(10))
        let hello = frame("data: hello\n\n")  // 13 bytes: 4 + 4 + 4 + 1
        queue.enqueue(hello, now: start, pacing: pacing)
        var now = start
        var pieces: [String] = []
        var completed = false
        while true {
            guard case .piece(let piece, let of, let completes, let nextAt) = queue.next(now: now, pacing: pacing) else { break }
            #expect(of == hello)
            #expect(piece.readableBytes <= 4)
            pieces.append(String(buffer: piece))
            completed = completes
            guard let nextAt else { break }
            #expect(nextAt == now + .milliseconds(10))
            now = nextAt
        }
        #expect(pieces == ["data", ": he", "llo\n", "\n"])
        #expect(completed)
        #expect(queue.isEmpty)
        #expect(queue.queuedBytes == 0)
    }

    @Test("a stall that ends early (cleared) lets the queue go at once; removeAll forgets everything")
    func clearedStall() {
        var queue = PacingQueue()
        queue.enqueue(frame("data: x\n\n"), now: start, pacing: Pacing(stalledUntil: start + .seconds(60)))
        #expect(queue.next(now: start + .seconds(1), pacing: Pacing(stalledUntil: start + .seconds(60))) == .wait(until: start + .seconds(60)))
        #expect(queue.next(now: start + .seconds(1), pacing: Pacing()) == .frame(frame("data: x\n\n")))
        queue.enqueue(frame("data: y\n\n"), now: start, pacing: Pacing(delay: .seconds(5)))
        queue.removeAll()
        #expect(queue.isEmpty && queue.queuedBytes == 0)
        #expect(queue.next(now: start + .seconds(10), pacing: Pacing()) == .empty)
    }

    @Test("a client's pacing combines with its stream's: the later stall, the client's delay and chunking")
    func combined() {
        let stream = Pacing(stalledUntil: start + .seconds(2), delay: .milliseconds(100), chunkSize: 8)
        let own = Pacing(stalledUntil: start + .seconds(5), delay: .milliseconds(300), chunkSize: 3, chunkInterval: .milliseconds(40))
        let result = stream.combined(with: own)
        #expect(result == own)
        #expect(stream.combined(with: Pacing()) == stream)
        #expect(Pacing(stalledUntil: start + .seconds(9)).combined(with: Pacing(stalledUntil: start)).stalledUntil == start + .seconds(9))
    }
}
