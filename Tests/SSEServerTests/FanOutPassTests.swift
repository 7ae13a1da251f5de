import EventStream
import NIOCore
import Testing

@testable import SSEServer

/// A subscriber stand-in that keeps what it was handed.
final class Recipient: FanOutRecipient {
    var deliveredSequence = 0
    var isClosed = false
    var received: [String] = []
}

/// The fan-out state machine driven by hand: slices, broadcasts in the middle of a pass, joins,
/// departures; every recipient gets every frame broadcast after it joined, once and in order.
@Suite("Server: the fan-out pass, without a loop")
struct FanOutPassTests {
    let allocator = ByteBufferAllocator()

    func frame(_ text: String) -> Frame { Frame(ByteBuffer(string: text), isEvent: true, allocator: allocator) }

    func deliverSlice(_ fanOut: inout FanOut<Recipient>, size: Int) {
        fanOut.beginSlice(size: size)
        while let delivery = fanOut.nextDelivery() {
            delivery.recipient.received += delivery.frames.map { String(buffer: $0.bytes) }
        }
    }

    @Test("one broadcast to 300 recipients in slices of 128: three slices, then finished, the outbox empty")
    func slices() {
        var fanOut = FanOut<Recipient>()
        let recipients = (0..<300).map { _ in Recipient() }
        let startsPass = fanOut.broadcast(frame("a"))
        let startsAnother = fanOut.broadcast(frame("b"))
        #expect(startsPass)
        #expect(!startsAnother, "a pass is already due: no second start")
        fanOut.startPass(over: recipients)
        var outcomes: [FanOut<Recipient>.AfterSlice] = []
        repeat {
            deliverSlice(&fanOut, size: 128)
            outcomes.append(fanOut.endSlice(subscribers: recipients, isStopping: false))
        } while outcomes.last == .continuePass
        #expect(outcomes == [.continuePass, .continuePass, .finished])
        #expect(recipients.allSatisfy { $0.received == ["a", "b"] })
        #expect(fanOut.outbox.isEmpty && !fanOut.isRunning)
    }

    @Test("random broadcasts, joins, departures and one-off sends between slices: each frame once, in order", arguments: [1, 2, 3, 4] as [UInt64])
    func randomInterleaving(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var fanOut = FanOut<Recipient>()
        var subscribers: [Recipient] = []
        var joinedAt: [ObjectIdentifier: Int] = [:]
        var sent = 0
        var passState: FanOut<Recipient>.AfterSlice? = nil  // nil: no pass under way
        for _ in 0..<2_000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                sent += 1
                if fanOut.broadcast(frame(String(sent))) { fanOut.startPass(over: subscribers); passState = .continuePass }
            case 4:
                let newcomer = Recipient()
                newcomer.deliveredSequence = fanOut.lastSequence
                joinedAt[ObjectIdentifier(newcomer)] = sent
                subscribers.append(newcomer)
            case 5 where !subscribers.isEmpty:
                let leaving = subscribers.remove(at: Int.random(in: 0..<subscribers.count, using: &random))
                leaving.isClosed = true
            case 6 where !subscribers.isEmpty:
                // What ServerCore.sendDirectly does before a frame for one subscriber alone.
                let one = subscribers[Int.random(in: 0..<subscribers.count, using: &random)]
                if let owed = fanOut.takeOwed(by: one) { one.received += owed.map { String(buffer: $0.bytes) } }
            default:
                guard let state = passState else { continue }
                if state == .restartPass { fanOut.startPass(over: subscribers) }
                deliverSlice(&fanOut, size: Int.random(in: 1...4, using: &random))
                let next = fanOut.endSlice(subscribers: subscribers, isStopping: false)
                passState = next == .finished ? nil : next
            }
        }
        while let state = passState {
            if state == .restartPass { fanOut.startPass(over: subscribers) }
            deliverSlice(&fanOut, size: 3)
            let next = fanOut.endSlice(subscribers: subscribers, isStopping: false)
            passState = next == .finished ? nil : next
        }
        #expect(!subscribers.isEmpty)
        for subscriber in subscribers {
            let from = joinedAt[ObjectIdentifier(subscriber)] ?? 0
            #expect(subscriber.received == ((from + 1)...max(from + 1, sent)).filter { $0 <= sent }.map(String.init))
        }
        #expect(fanOut.outbox.isEmpty && !fanOut.isRunning)
    }

    @Test("stopping ends the pass at once; a closed recipient is handed nothing")
    func stoppingAndClosed() {
        var fanOut = FanOut<Recipient>()
        let open = Recipient()
        let closed = Recipient()
        closed.isClosed = true
        _ = fanOut.broadcast(frame("x"))
        fanOut.startPass(over: [closed, open])
        deliverSlice(&fanOut, size: 1)
        #expect(fanOut.endSlice(subscribers: [closed, open], isStopping: true) == .finished)
        #expect(closed.received.isEmpty && open.received.isEmpty)
        #expect(!fanOut.isRunning)
    }
}
