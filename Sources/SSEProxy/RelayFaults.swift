import SSEServer

/// The event-level faults waiting on one proxied stream: what only a proxy can do to events on their
/// way from the upstream to the client. Counts go down as events pass; a fault at zero is done.
///
/// Invariant: every count is 0 or more, and `rewriteRetry` is 0 to `maxRetry` milliseconds
/// (`validated()` checks both before a command's values are used).
public struct RelayFaults: Sendable, Hashable {
    /// End the downstream connection right after this many more events have passed.
    public struct DropAfter: Sendable, Hashable {
        public var events: Int
        public var mode: DropMode

        public init(events: Int, mode: DropMode) {
            self.events = events
            self.mode = mode
        }
    }

    /// The largest count a fault takes (`after=`, `count=`).
    public static let maxCount = 1_000_000
    /// The largest `retry` a rewrite writes: 7 days, drip's bound on any duration.
    public static let maxRetry = 604_800_000

    public var dropAfter: DropAfter?
    /// Swallow this many next events: the client never sees them.
    public var skip = 0
    /// Write this many next events twice.
    public var duplicate = 0
    /// Write every `retry` field as this many milliseconds, and announce it once first.
    public var rewriteRetry: Int?
    /// Leave out every `id` field.
    public var stripsIds = false
    /// Malform the next events, one corruption each, in order.
    public var corruptions: [Corruption] = []

    public init(
        dropAfter: DropAfter? = nil, skip: Int = 0, duplicate: Int = 0, rewriteRetry: Int? = nil, stripsIds: Bool = false,
        corruptions: [Corruption] = []
    ) {
        self.dropAfter = dropAfter
        self.skip = skip
        self.duplicate = duplicate
        self.rewriteRetry = rewriteRetry
        self.stripsIds = stripsIds
        self.corruptions = corruptions
    }

    /// Whether the next block must be held whole before it is written (to leave it out, repeat it or
    /// change its lines); a block is otherwise passed on as its bytes arrive.
    var holdsBlocks: Bool { skip > 0 || duplicate > 0 || rewriteRetry != nil || stripsIds || !corruptions.isEmpty }

    /// `self`, checked: an error naming the value out of range.
    public func validated() throws(ProxyError) -> RelayFaults {
        for (name, count) in [("after", dropAfter?.events ?? 0), ("skip count", skip), ("duplicate count", duplicate)]
        where !(0...Self.maxCount).contains(count) {
            throw .outOfRange("\(name) \(count) is outside 0 to \(Self.maxCount)")
        }
        for case .longLine(let size) in corruptions where !(0...Corruption.maxLongLine).contains(size) {
            throw .outOfRange("a long line of \(size) bytes is outside 0 to \(Corruption.maxLongLine) (64 MiB)")
        }
        if let retry = rewriteRetry, !(0...Self.maxRetry).contains(retry) {
            throw .outOfRange("a rewritten retry of \(retry) ms is outside 0 to \(Self.maxRetry) ms (7 days)")
        }
        return self
    }

    /// `self` with `other`'s faults added: counts add up (bounded), the later drop and rewrite win.
    public func adding(_ other: RelayFaults) -> RelayFaults {
        var result = self
        if let drop = other.dropAfter { result.dropAfter = drop }
        result.skip = min(Self.maxCount, skip + other.skip)
        result.duplicate = min(Self.maxCount, duplicate + other.duplicate)
        if let retry = other.rewriteRetry { result.rewriteRetry = retry }
        if other.stripsIds { result.stripsIds = true }
        result.corruptions += other.corruptions
        return result
    }
}

/// Why the proxy refused a request of its user, or could not go on.
public enum ProxyError: Error, Hashable, Sendable, CustomStringConvertible {
    case outOfRange(String)
    case invalidUpstream(String)
    case bindFailed(address: String, reason: String)
    case noSuchConnection(Int)
    case notRunning

    public var description: String {
        switch self {
        case .outOfRange(let reason): reason
        case .invalidUpstream(let reason): reason
        case .bindFailed(let address, let reason): "cannot listen on \(address): \(reason)"
        case .noSuchConnection(let number): "no open connection #\(number) through this proxy"
        case .notRunning: "the proxy is not running"
        }
    }
}
