/// A limit of `EventStreamParser.Limits` was exceeded; the stream cannot be parsed further.
public enum EventStreamError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A line (without its terminator) grew longer than `limit` bytes; `line` is its 1-based number.
    case lineTooLong(line: Int, limit: Int)
    /// An event's data grew larger than `limit` bytes; `line` is the data line that crossed it.
    case eventTooLarge(line: Int, limit: Int)

    /// The 1-based line number where the limit was crossed.
    public var line: Int {
        switch self {
        case .lineTooLong(let line, _), .eventTooLarge(let line, _): line
        }
    }

    public var description: String {
        switch self {
        case .lineTooLong(_, let limit): "line longer than the limit of \(limit) bytes"
        case .eventTooLarge(_, let limit): "event data larger than the limit of \(limit) bytes"
        }
    }
}

/// An event that cannot be written as a `text/event-stream` without changing its meaning.
public enum EventEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An id containing CR, LF or NUL: a browser would split it or ignore it.
    case invalidID(String)
    /// An event type containing CR or LF: it would become two fields.
    case invalidType(String)
    /// A negative reconnection time: only digits may follow `retry:`.
    case invalidRetry(Int)

    public var description: String {
        switch self {
        case .invalidID(let id): "id \(id.debugDescription) contains CR, LF or NUL"
        case .invalidType(let type): "event type \(type.debugDescription) contains CR or LF"
        case .invalidRetry(let retry): "retry \(retry) is negative; it must be a number of milliseconds"
        }
    }
}
