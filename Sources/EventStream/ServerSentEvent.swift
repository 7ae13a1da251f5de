/// One event of a `text/event-stream`, as a browser's `EventSource` dispatches it or as a server sends it.
///
/// Parsed events always carry the stream's last event id in `id` (empty when none was ever set),
/// the type `"message"` when the stream named none, and `retry` when the event's own block held a
/// valid `retry` field. For encoding, `id == nil` writes no `id` line and `retry == nil` no `retry` line.
public struct ServerSentEvent: Sendable, Hashable {
    // Stored in this order so that the synthesized memberwise `init(data:type:id:retry:)` stays
    // available inside the module: the parser builds events with it, which moves the strings into
    // the event, where an explicit initializer makes the optimizer copy and destroy the whole value.

    /// The data, lines joined with LF, no trailing LF.
    public var data: String
    /// The event type (`event:` field); `"message"` when none was given.
    public var type: String
    /// The id: the last event id when parsed; the `id:` field to write when encoded.
    public var id: String?
    /// The reconnection time in milliseconds announced with this event, if any.
    public var retry: Int?
}

extension ServerSentEvent {
    /// The type the browser dispatches when the block has no `event` field.
    public static let defaultType = "message"

    public init(type: String = ServerSentEvent.defaultType, data: String, id: String? = nil, retry: Int? = nil) {
        self.init(data: data, type: type, id: id, retry: retry)
    }
}
