import EventStream

/// A reconnecting `EventSource` for Swift, as a browser has one: open it on a URL and iterate its
/// events.
///
/// ```swift
/// let source = try EventSource(url: "http://127.0.0.1:8080/streams/news")
/// for try await event in source.events {
///     print(event.type, event.id ?? "-", event.data)
/// }
/// ```
///
/// It follows the WHATWG rules (see `EventSourceStateMachine`): a 200 `text/event-stream` opens; when
/// an open stream ends or breaks it waits the reconnection time (3 s until the server sends `retry:`)
/// and reconnects with `Last-Event-ID`; redirects are followed; a 204 ends the sequence normally; any
/// other status, a wrong content type, or running out of retries ends it by throwing
/// `EventSourceError`. Leaving the loop (or cancelling its task) closes the connection. For every
/// state change, comments and retries as well as events, use `EventSourceClient.run`.
public struct EventSource: Sendable {
    public var options: ClientOptions

    /// A source with every setting of `ClientOptions` (headers, method and body, TLS, backoff…).
    public init(options: ClientOptions) {
        self.options = options
    }

    /// A source on `url` (`http://` or `https://`), sending `headers` and, on its first request,
    /// `lastEventId` when it is not empty.
    public init(url: String, headers: [(name: String, value: String)] = [], lastEventId: String = "") throws(HTTPURLError) {
        self.options = ClientOptions(request: ClientRequest(url: try HTTPURL(parsing: url), headers: headers, lastEventId: lastEventId))
    }

    /// The events the source dispatches, across reconnections, in order.
    public var events: AsyncThrowingStream<ServerSentEvent, any Error> {
        let options = self.options
        return AsyncThrowingStream { continuation in
            let task = Task {
                let ending = await EventSourceClient.run(options) { happening in
                    if case .event(let event) = happening { continuation.yield(event) }
                }
                if case .closed(let reason, isFailure: true) = ending {
                    continuation.finish(throwing: EventSourceError(reason: reason))
                } else {
                    continuation.finish()
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Why an `EventSource` stopped for good: the status or content type it was refused with, or the
/// last failure when its retries ran out.
public struct EventSourceError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
