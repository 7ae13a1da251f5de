import EventStream
import Synchronization

/// Everything a workbench saw, in order, each with when it happened (since the log began): the raw
/// material a `Timeline` is built from. The engine adds every event it reports and every command it
/// runs; anyone may read it at any time (`drip run --report`, the REPL's `timeline`).
///
/// Invariants: at most `maxRecords` records are kept; past that, new ones are counted in `dropped`
/// instead, so a long session cannot grow it without bound; an event's data is kept to its first
/// `maxDataCharacters` characters (the drawing shows less), and raw byte reports are not kept.
public final class TimelineLog: Sendable {
    /// One thing seen.
    public enum Item: Sendable, Hashable {
        /// A command line ran; `origin` is `file:line` when it came from a script.
        case command(String, origin: String?)
        case event(WorkbenchEvent)
        /// The server's connection number `client` is the named client `name` (from the engine's
        /// directory), so its lane can carry the name.
        case serverConnectionOwner(client: Int, name: String)
    }

    public struct Record: Sendable, Hashable {
        /// Since the log began.
        public var at: Duration
        public var item: Item
    }

    /// The most records kept (a REPL session of hours at tens of events a second).
    public static let maxRecords = 200_000
    /// The most characters of an event's data kept.
    public static let maxDataCharacters = 256

    private let state = Mutex(State())
    private let start: ContinuousClock.Instant

    private struct State {
        var records: [Record] = []
        var dropped = 0
        /// Turns records into entries as they come, for `follower`.
        var live = Timeline.Builder()
        var follower: (@Sendable (String) -> Void)?
    }

    /// Hands every timeline entry made from now on to `follower`, as a JSON line, in order (called
    /// under the log's lock: it must only pass the line on, as `SSEServer.publishTimeline` does).
    /// Entries already made are not handed on; nil stops it.
    public func follow(_ follower: (@Sendable (String) -> Void)?) {
        state.withLock { $0.follower = follower }
    }

    /// Without `keepsRecords` nothing is kept for a report (`snapshot` is empty): the log only feeds
    /// its follower, as `drip serve` needs for the viewer.
    public init(start: ContinuousClock.Instant = .now, keepsRecords: Bool = true) {
        self.start = start
        self.keepsRecords = keepsRecords
    }

    private let keepsRecords: Bool

    public func add(_ item: Item, at instant: ContinuousClock.Instant = .now) {
        guard let item = Self.kept(item) else { return }
        let at = instant - start
        state.withLock { state in
            let record = Record(at: at, item: item)
            if state.records.count < Self.maxRecords {
                if keepsRecords { state.records.append(record) }
            } else {
                state.dropped += 1
            }
            // The live builder sees every record, kept or not, followed or not, so that its lanes stay
            // right and a viewer keeps seeing a session that outlasts the log.
            state.live.add(record)
            let entries = state.live.takeEntries()
            if let follower = state.follower {
                for entry in entries { follower(Timeline.jsonLine(entry, lane: state.live.timeline.lanes[entry.lane])) }
            }
        }
    }

    /// `item` as kept: events' data cut to `maxDataCharacters`; nil for what a timeline does not show.
    static func kept(_ item: Item) -> Item? {
        func cut(_ event: ServerSentEvent) -> ServerSentEvent {
            guard event.data.utf8.count > maxDataCharacters else { return event }
            var short = event
            short.data = String(event.data.prefix(maxDataCharacters)) + "…"
            return short
        }
        switch item {
        case .event(.client(_, .raw)): return nil
        case .event(.client(let name, .event(let event))): return .event(.client(name: name, event: .event(cut(event))))
        case .event(.proxy(let name, .observed(let connection, .event(let event, let fate)))):
            return .event(.proxy(name: name, event: .observed(connection: connection, .event(cut(event), fate))))
        default: return item
        }
    }

    /// What was kept, in order, and how many records came after the log was full.
    public var snapshot: (records: [Record], dropped: Int) {
        state.withLock { ($0.records, $0.dropped) }
    }
}
