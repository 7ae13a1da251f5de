import EventStream
import Synchronization

/// Everything a workbench ran and saw, made into a `Timeline` as it happens: the engine adds every
/// event it reports and every command it runs, each with when (since the log began); a report
/// (`drip run --report`, the REPL's `timeline`) takes the timeline so far, and a follower (the
/// viewer's `GET /timeline`) gets each new entry as it is made. One `Timeline.Builder` does both.
///
/// Invariants: at most `maxEntries` entries are kept (past that, new ones are counted in the
/// timeline's `dropped`, and a follower no longer gets them), so a long session cannot grow it
/// without bound; without `keepsEntries` none are kept and a follower gets every one; an event's data
/// is kept to its first `maxDataCharacters` characters (the drawing shows less), and raw byte
/// reports are not kept.
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

    /// The most characters of an event's data kept.
    public static let maxDataCharacters = 256

    private struct State {
        var builder: Timeline.Builder
        /// Entries of `builder` the follower has had (all kept ones, whether or not it was set).
        var handedOn = 0
        var last: Duration = .zero
        var follower: (@Sendable (String) -> Void)?
    }

    private let state: Mutex<State>
    private let start: ContinuousClock.Instant
    private let keepsEntries: Bool

    /// Without `keepsEntries` nothing is kept for a report (the timeline has lanes, no entries): the
    /// log only feeds its follower, as `drip serve` needs for the viewer.
    public init(
        start: ContinuousClock.Instant = .now, keepsEntries: Bool = true, maxEntries: Int = Timeline.Builder.defaultMaxEntries
    ) {
        self.start = start
        self.keepsEntries = keepsEntries
        state = Mutex(State(builder: Timeline.Builder(maxEntries: maxEntries)))
    }

    /// Hands every timeline entry made from now on to `follower`, as a JSON line, in order (called
    /// under the log's lock: it must only pass the line on, as `SSEServer.publishTimeline` does).
    /// Entries already made are not handed on; nil stops it.
    public func follow(_ follower: (@Sendable (String) -> Void)?) {
        state.withLock { $0.follower = follower }
    }

    public func add(_ item: Item, at instant: ContinuousClock.Instant = .now) {
        guard let item = Self.kept(item) else { return }
        let at = instant - start
        state.withLock { state in
            state.last = at
            state.builder.add(Record(at: at, item: item))
            let entries = state.builder.timeline.entries
            if let follower = state.follower {
                for entry in entries[state.handedOn...] {
                    follower(Timeline.jsonLine(entry, lane: state.builder.timeline.lanes[entry.lane]))
                }
            }
            if keepsEntries {
                state.handedOn = entries.count
            } else {
                state.builder.timeline.entries.removeAll(keepingCapacity: true)
            }
        }
    }

    /// The timeline so far.
    public var timeline: Timeline {
        state.withLock { state in
            var timeline = state.builder.timeline
            timeline.duration = state.last
            timeline.dropped = state.builder.dropped
            return timeline
        }
    }

    /// `item` as kept: events' data cut to `maxDataCharacters`; nil for what a timeline does not show.
    static func kept(_ item: Item) -> Item? {
        func cut(_ event: ServerSentEvent) -> ServerSentEvent {
            let head = event.data.prefix(maxDataCharacters)
            guard head.endIndex < event.data.endIndex else { return event }
            var short = event
            short.data = String(head) + "…"
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
}
