import EventStream
import NIOCore

/// One named stream: its settings, history ring, subscribers, and the faults set on it.
///
/// Invariant: used only on the server's event loop; `history` holds at most `settings.historySize`
/// entries, oldest first, their serials rising.
final class StreamState {
    struct HistoryEntry {
        let event: ServerSentEvent
        let frame: Frame
        /// The entry's place among every stream's entries (see `HistoryLedger`).
        let serial: Int

        var id: String? { event.id }
        /// The bytes this entry holds: the event's data and its two encodings (plain and chunked).
        var size: Int { event.data.utf8.count + frame.bytes.readableBytes + frame.chunk.readableBytes }
    }

    let name: String
    var settings: StreamSettings
    /// Set up on purpose (the workbench's `stream`, a fault) rather than created by a request; such
    /// a stream stays when it is unused, one created by a request goes (see `ServerCore.removeIfUnused`).
    var isKept = false
    /// A ring: adding an entry and dropping the oldest are O(1) however long the history (the
    /// timeline stream takes one entry per connection; an array's front removal moved them all).
    private(set) var history = CircularBuffer<HistoryEntry>()
    var nextAutoID = 1
    /// Whether the log has warned that an event without an id went into the history (once per stream).
    var warnedIdless = false
    var lastId: String?
    var types: [String] = []
    /// Joining and leaving are O(1) (`SlotSet`); the order is not the order of joining.
    var subscribers = SlotSet<Subscriber>()
    var pacing = Pacing()
    var corruptions: [Corruption] = []
    /// Rejections to come, each with the connections it still answers (at least 1).
    var rejections: [(rejection: Rejection, remaining: Int)] = []
    /// Called with each connection to the stream, which it holds until the scenario answers it
    /// (`ServerCore.admit`); nil subscribes connections at once.
    var scenario: ScenarioHandler?
    /// The connections handed to `scenario` so far (each gets its number).
    var scenarioConnections = 0
    var heartbeat: Scheduled<Void>?
    var idleCheck: Scheduled<Void>?
    /// The broadcasts not yet delivered to every subscriber, and the pass delivering them (see
    /// `ServerCore.broadcast`).
    var fanOut = FanOut<Subscriber>()

    init(name: String, settings: StreamSettings) {
        self.name = name
        self.settings = settings
    }

    /// Whether the stream holds nothing a newcomer or a resuming client would miss: no subscriber,
    /// no history, no fault waiting.
    var isUnused: Bool {
        subscribers.isEmpty && history.isEmpty && rejections.isEmpty && corruptions.isEmpty && pacing == Pacing()
    }

    /// Appends `entry` and returns the entries the ring pushed out.
    func remember(_ entry: HistoryEntry) -> [HistoryEntry] {
        history.append(entry)
        return trimHistory()
    }

    /// Drops the oldest entries past `settings.historySize` and returns them.
    @discardableResult
    func trimHistory() -> [HistoryEntry] {
        let excess = history.count - max(0, settings.historySize)
        guard excess > 0 else { return [] }
        var removed: [HistoryEntry] = []
        removed.reserveCapacity(excess)
        for _ in 0..<excess { removed.append(history.removeFirst()) }
        return removed
    }

    /// Removes the oldest entry when its serial is `serial`; returns it.
    func removeOldest(serial: Int) -> HistoryEntry? {
        guard history.first?.serial == serial else { return nil }
        return history.removeFirst()
    }

    /// The entries after the one with `id`, or nil when no entry has that id.
    func entries(after id: String) -> CircularBuffer<HistoryEntry>? {
        guard let index = history.lastIndex(where: { $0.id == id }) else { return nil }
        return history[history.index(after: index)...]
    }
}
