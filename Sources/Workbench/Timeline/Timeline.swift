import EventStream
import SSEClient
import SSEProxy
import SSEServer

/// What happened in a session, as typed, timestamped entries on lanes: the one model behind the
/// report's drawing, `--timeline` JSON lines and the REPL's `timeline`. Built from a `TimelineLog`
/// by a pure pass, so it is tested by feeding records.
///
/// Lanes: one for the session (commands, the server starting and stopping, expectations); one per
/// server connection (`feed #1`), grouped by stream; one per named client (`reader`), where each
/// connection is a segment and a reconnection the next segment of the same lane; one per proxied
/// exchange (`p1#2`). Invariants: entries are in time order; every entry's lane exists; a lane's
/// segments do not overlap (an `opened` comes only after the previous segment's end).
public struct Timeline: Sendable, Hashable {
    public struct Lane: Sendable, Hashable {
        public enum Side: String, Sendable, Hashable {
            case session, server, client, proxy
        }

        public var side: Side
        public var name: String
        /// The stream (server lanes), or the proxy (proxy lanes): lanes of one group are drawn together.
        public var group: String
    }

    public enum Kind: Sendable, Hashable {
        case command(String, origin: String?)
        case serverListening(url: String)
        case serverStopped
        /// A connection began (a segment starts); `lastEventId` is the `Last-Event-ID` it carried.
        case opened(lastEventId: String?)
        /// An event written to a server connection (`replayed`: from history, after a resume), seen by
        /// a client, or passed through a proxy.
        case event(type: String, id: String?, data: String, replayed: Bool)
        /// The server sent `count` events from history again after `lastEventId`.
        case replay(count: Int, lastEventId: String)
        /// A connection ended (the segment ends); `byFault` when drip broke it on purpose.
        case ended(reason: String, byFault: Bool)
        /// A client waits `delay` before it reconnects.
        case waiting(delay: Duration)
        /// A response that did not open the stream.
        case refused(status: Int)
        /// A client stopped for good.
        case closed(reason: String, isFailure: Bool)
        case expectation(passed: Bool, summary: String, detail: String, origin: String?)
    }

    public struct Entry: Sendable, Hashable {
        public var at: Duration
        /// Index into `lanes`.
        public var lane: Int
        public var kind: Kind
    }

    public var lanes: [Lane] = []
    public var entries: [Entry] = []
    /// When the last record was taken.
    public var duration: Duration = .zero
    /// Entries not kept (there were more than the builder keeps).
    public var dropped = 0

    public init(lanes: [Lane] = [], entries: [Entry] = [], duration: Duration = .zero, dropped: Int = 0) {
        self.lanes = lanes
        self.entries = entries
        self.duration = duration
        self.dropped = dropped
    }

    /// The timeline of `log` so far.
    public init(_ log: TimelineLog) { self = log.timeline }

    /// The timeline of `records`, in one pass.
    public init(records: [TimelineLog.Record]) {
        var builder = Builder()
        for record in records { builder.add(record) }
        self = builder.timeline
        dropped = builder.dropped
        duration = records.last?.at ?? .zero
    }

    static let sessionLane = Lane(side: .session, name: "session", group: "")
}

extension Timeline {
    /// Turns records into entries, remembering which lane each server connection, client and
    /// exchange is on, and which server connections of a stream are open (to draw what a publish wrote).
    /// Used whole (`init(records:)`) or record by record (`TimelineLog`).
    /// Invariants: at most `maxEntries` entries are kept (past that, they are counted as dropped) and
    /// at most `maxLanes` lanes made (later connections share one last lane), so a server that runs for
    /// days with a live follower stays bounded.
    public struct Builder: Sendable {
        public static let defaultMaxEntries = 400_000
        static let maxLanes = 20_000
        let maxEntries: Int
        static let overflowLane = Lane(side: .server, name: "(later connections)", group: "~")
        private(set) var dropped = 0
        var timeline = Timeline()
        var laneIndex: [Lane: Int] = [:]
        var serverLanes: [Int: Int] = [:]
        var serverOwners: [Int: String] = [:]
        var openServerLanes: [String: [Int]] = [:]
        var lastOrigin: String?

        init(maxEntries: Int = defaultMaxEntries) { self.maxEntries = maxEntries }

        mutating func lane(_ lane: Lane) -> Int {
            if let index = laneIndex[lane] { return index }
            if timeline.lanes.count >= Self.maxLanes, lane != Self.overflowLane { return self.lane(Self.overflowLane) }
            timeline.lanes.append(lane)
            laneIndex[lane] = timeline.lanes.count - 1
            return timeline.lanes.count - 1
        }

        mutating func add(_ at: Duration, _ lane: Lane, _ kind: Kind) {
            append(Entry(at: at, lane: self.lane(lane), kind: kind))
        }

        private mutating func append(_ entry: Entry) {
            guard timeline.entries.count < maxEntries else {
                dropped += 1
                return
            }
            timeline.entries.append(entry)
        }

        mutating func add(_ record: TimelineLog.Record) {
            let at = record.at
            switch record.item {
            case .command(let line, let origin):
                lastOrigin = origin
                add(at, Timeline.sessionLane, .command(line, origin: origin))
            case .serverConnectionOwner(let client, let name):
                serverOwners[client] = name
            case .event(let event):
                add(at, event)
            }
        }

        private mutating func add(_ at: Duration, _ event: WorkbenchEvent) {
            switch event {
            case .server(let entry): add(at, entry)
            case .client(let name, let event): add(at, client: name, event)
            case .proxy(let name, let event): add(at, proxy: name, event)
            case .expectation(let passed, let summary, let detail):
                add(at, Timeline.sessionLane, .expectation(passed: passed, summary: summary, detail: detail, origin: lastOrigin))
            case .info, .failure, .scenarioEnded:
                break
            }
        }

        private mutating func add(_ at: Duration, _ entry: ServerLogEntry) {
            switch entry {
            case .listening(let url): add(at, Timeline.sessionLane, .serverListening(url: url))
            case .stopped: add(at, Timeline.sessionLane, .serverStopped)
            case .connected(let client, let stream, _, let lastEventId):
                let owner = serverOwners[client].map { " (\($0))" } ?? ""
                let index = lane(Lane(side: .server, name: "\(stream) #\(client)\(owner)", group: stream))
                serverLanes[client] = index
                openServerLanes[stream, default: []].append(index)
                append(Entry(at: at, lane: index, kind: .opened(lastEventId: lastEventId)))
            case .disconnected(let client, let stream, let reason):
                serverOwners[client] = nil
                guard let index = serverLanes.removeValue(forKey: client) else { return }
                openServerLanes[stream]?.removeAll { $0 == index }
                append(Entry(at: at, lane: index, kind: .ended(reason: reason, byFault: reason.hasPrefix("dropped"))))
            case .published(let stream, let id, let type, _):
                for index in openServerLanes[stream] ?? [] {
                    append(Entry(at: at, lane: index, kind: .event(type: type, id: id, data: "", replayed: false)))
                }
            case .replayed(let client, _, let count, let lastEventId, _):
                guard let index = serverLanes[client] else { return }
                append(Entry(at: at, lane: index, kind: .replay(count: count, lastEventId: lastEventId)))
            default:
                break
            }
        }

        private mutating func add(_ at: Duration, client name: String, _ event: ClientEvent) {
            let lane = Lane(side: .client, name: name, group: "")
            switch event {
            case .connecting(_, _, let lastEventId): add(at, lane, .opened(lastEventId: lastEventId))
            case .event(let sse): add(at, lane, .event(type: sse.type, id: sse.id, data: sse.data, replayed: false))
            case .refused(let status, _, _, _): add(at, lane, .refused(status: status))
            case .reconnecting(let delay, let reason):
                add(at, lane, .ended(reason: reason, byFault: false))
                add(at, lane, .waiting(delay: delay))
            case .closed(let reason, let isFailure): add(at, lane, .closed(reason: reason, isFailure: isFailure))
            case .open, .comment, .retry, .raw: break
            }
        }

        private mutating func add(_ at: Duration, proxy name: String, _ event: ProxyEvent) {
            guard event.connection > 0 else { return }
            let lane = Lane(side: .proxy, name: "\(name)#\(event.connection)", group: name)
            switch event {
            case .request(_, _, _, let headers):
                add(at, lane, .opened(lastEventId: headers.first { $0.name.lowercased() == "last-event-id" }?.value))
            case .response(_, let status, _, _, let isEventStream, _):
                if !isEventStream, !(200..<300).contains(status) { add(at, lane, .refused(status: status)) }
            case .observed(_, .event(let sse, let fate)):
                // A skipped event never reached the client: it is not drawn as one that did.
                if fate != .skipped { add(at, lane, .event(type: sse.type, id: sse.id, data: sse.data, replayed: false)) }
            case .ended(_, let reason, let byUpstream):
                add(at, lane, .ended(reason: reason, byFault: !byUpstream && reason.contains("by the proxy")))
            case .observed, .problem:
                break
            }
        }
    }
}
