/// What the fan-out needs of a subscriber: how far it is in the stream's broadcasts, and whether it
/// is gone.
protocol FanOutRecipient: AnyObject {
    /// The sequence number of the last broadcast it was handed.
    var deliveredSequence: Int { get set }
    var isClosed: Bool { get }
}

/// The fan-out of one stream's broadcasts: the outbox of frames not yet handed to every subscriber,
/// and the pass under way over the subscribers, a slice at a time. Pure state: it does no I/O and
/// schedules nothing; `ServerCore` asks it for the next delivery, writes it, and yields to the loop
/// between slices when it says so. Tests drive it with plain objects.
///
/// Invariants: sequence numbers rise by one per broadcast; each recipient is handed every frame
/// broadcast after it joined exactly once and in order (`deliveredSequence` says how far it is); the
/// outbox holds only frames some open subscriber has not had, and is empty when no pass runs.
struct FanOut<Recipient: FanOutRecipient> {
    /// Frames owed to one recipient, in order.
    typealias Owed = LazyMapSequence<ArraySlice<(sequence: Int, frame: Frame)>, Frame>

    /// What the caller does after a slice.
    enum AfterSlice: Equatable {
        /// Yield to the loop, then `beginSlice` again: the pass has subscribers left.
        case continuePass
        /// Yield to the loop, then `startPass` again: broadcasts came during the pass, and the
        /// subscribers it had passed already still need them.
        case restartPass
        /// Done; the next broadcast starts a pass.
        case finished
    }

    private(set) var outbox: [(sequence: Int, frame: Frame)] = []
    /// The newest broadcast's sequence number; a newcomer starts after it.
    private(set) var lastSequence = 0
    /// Whether a pass runs (or is about to start).
    private(set) var isRunning = false
    private var pass: [Recipient] = []
    private var cursor = 0
    private var sliceEnd = 0
    private var startSequence = 0

    /// Adds a broadcast; true when no pass was running, so the caller starts one (later in this loop
    /// tick, so that broadcasts made together go out in one pass).
    mutating func broadcast(_ frame: Frame) -> Bool {
        lastSequence += 1
        outbox.append((lastSequence, frame))
        guard !isRunning else { return false }
        isRunning = true
        return true
    }

    /// Starts a pass over `recipients` (the stream's subscribers now).
    mutating func startPass(over recipients: [Recipient]) {
        pass = recipients
        cursor = 0
        sliceEnd = 0
        startSequence = lastSequence
    }

    /// Opens the next slice of at most `size` recipients.
    mutating func beginSlice(size: Int) {
        sliceEnd = min(pass.count, cursor + size)
    }

    /// The next recipient of the slice that is owed frames, with them (now counted as delivered);
    /// nil when the slice is done.
    mutating func nextDelivery() -> (recipient: Recipient, frames: Owed)? {
        while cursor < sliceEnd {
            let recipient = pass[cursor]
            cursor += 1
            if let frames = takeOwed(by: recipient) { return (recipient, frames) }
        }
        return nil
    }

    /// Ends a slice. `subscribers` are the stream's subscribers now (some may have left or joined
    /// since the pass began); with `isStopping` the pass ends here.
    mutating func endSlice(subscribers: [Recipient], isStopping: Bool) -> AfterSlice {
        if cursor < pass.count, !isStopping { return .continuePass }
        pass = []
        let oldest = subscribers.lazy.filter { !$0.isClosed }.map(\.deliveredSequence).min() ?? lastSequence
        outbox.removeAll { $0.sequence <= oldest }
        if lastSequence > startSequence, !isStopping { return .restartPass }
        outbox.removeAll(keepingCapacity: outbox.capacity <= 64)
        isRunning = false
        return .finished
    }

    /// What `recipient` has not had of the outbox (now counted as delivered); nil when nothing. Used
    /// by the pass, and before anything is sent to one subscriber alone, so it never overtakes the
    /// broadcasts still owed to it.
    mutating func takeOwed(by recipient: Recipient) -> Owed? {
        let upTo = lastSequence
        guard recipient.deliveredSequence < upTo, !recipient.isClosed, let first = outbox.first?.sequence else { return nil }
        let start = max(0, recipient.deliveredSequence + 1 - first)
        recipient.deliveredSequence = upTo
        guard start < outbox.count else { return nil }
        return outbox[start...].prefix { $0.sequence <= upTo }.lazy.map(\.frame)
    }
}
