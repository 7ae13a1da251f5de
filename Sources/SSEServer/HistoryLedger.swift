/// Keeps every stream's history, together, within the server's byte budget: it knows in which order
/// entries went into which stream, so the oldest entries of any stream are the first to go.
///
/// Invariant: `bytes` and `count` are the sums over every stream's history; `order` holds each of
/// those entries once, oldest first, plus stale places of entries a stream has dropped itself (its
/// ring, a removed stream), which `oldest()` skips and `compact` sweeps out once they are the majority.
struct HistoryLedger {
    private(set) var bytes = 0
    private(set) var count = 0
    private var lastSerial = 0
    private var order: [(stream: String, serial: Int)] = []
    private var start = 0

    /// The serial for the next entry.
    mutating func nextSerial() -> Int {
        lastSerial += 1
        return lastSerial
    }

    mutating func added(_ entry: StreamState.HistoryEntry, to stream: String) {
        bytes += entry.size
        count += 1
        order.append((stream, entry.serial))
    }

    mutating func removed(_ entries: some Sequence<StreamState.HistoryEntry>) {
        for entry in entries {
            bytes -= entry.size
            count -= 1
        }
    }

    /// The place of the oldest entry remembered and not yet taken, which may be stale.
    mutating func takeOldest() -> (stream: String, serial: Int)? {
        guard start < order.count else { return nil }
        let oldest = order[start]
        start += 1
        return oldest
    }

    /// Sweeps out taken and stale places once they outnumber the live ones; `live` lists every
    /// stream's entries (asked for only then).
    mutating func compact(live: () -> [(stream: String, serial: Int)]) {
        guard order.count - start > 2 * count + 64 || start > order.count / 2 + 64 else { return }
        order = live().sorted { $0.serial < $1.serial }
        start = 0
    }
}
