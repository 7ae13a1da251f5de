import NIOCore

/// For each published event, how long it took to reach the last of this process's steady
/// subscribers: one table per event loop, written only there by the subscribers on that loop (no
/// lock, no atomic per delivery), read back and combined when the run ends.
///
/// Invariants: only sequence numbers 1…`trackedEvents` are kept (the first `maxTrackedEvents` of a
/// run), so memory is bounded by that, not by `--events`; each table is touched on its loop only.
struct FanOutTables: Sendable {
    /// The most events whose fan-out a run measures: 100,000 (a few hundred KB per loop, and the
    /// per-event list in a --json report stays near a megabyte).
    static let maxTrackedEvents = 100_000

    let trackedEvents: Int
    private let tables: [(loop: EventLoop, table: NIOLoopBoundBox<FanOutTable>)]

    init(group: EventLoopGroup, events: Int) {
        trackedEvents = min(max(0, events), Self.maxTrackedEvents)
        var tables: [(loop: EventLoop, table: NIOLoopBoundBox<FanOutTable>)] = []
        for loop in group.makeIterator() {
            tables.append((loop, .makeBoxSendingValue(FanOutTable(events: trackedEvents), eventLoop: loop)))
        }
        self.tables = tables
    }

    /// The table of `loop`, to be used on it; nil for a loop outside the group.
    func table(on loop: EventLoop) -> FanOutTable? {
        tables.first { $0.loop === loop }?.table.value
    }

    /// Each tracked event's time to reach every one of `subscribers` (microseconds, index = sequence
    /// − 1), or nil for an event that did not reach them all; up to the highest sequence any
    /// subscriber got (a run that only subscribes does not know how many were published).
    func combined(subscribers: Int) async throws -> [UInt32?] {
        var latest = [UInt32](repeating: 0, count: trackedEvents)
        var arrivals = [Int](repeating: 0, count: trackedEvents)
        for (loop, table) in tables {
            let (tableLatest, tableArrivals) = try await loop.submit { (table.value.latest, table.value.arrivals) }.get()
            for index in 0..<trackedEvents {
                latest[index] = max(latest[index], tableLatest[index])
                arrivals[index] += Int(tableArrivals[index])
            }
        }
        let reached = (arrivals.lastIndex { $0 > 0 } ?? -1) + 1
        return (0..<reached).map { arrivals[$0] >= subscribers && subscribers > 0 ? latest[$0] : nil }
    }
}

/// One event loop's part of `FanOutTables`: per event, the latest arrival (as latency) and how many
/// subscribers it reached.
final class FanOutTable {
    private(set) var latest: [UInt32]
    private(set) var arrivals: [UInt32]

    init(events: Int) {
        latest = Array(repeating: 0, count: events)
        arrivals = Array(repeating: 0, count: events)
    }

    /// A subscriber got event `sequence` (its first copy) `microseconds` after it was sent.
    func note(sequence: Int, microseconds: UInt32) {
        let index = sequence - 1
        guard index >= 0, index < latest.count else { return }
        latest[index] = max(latest[index], microseconds)
        arrivals[index] &+= 1
    }
}
