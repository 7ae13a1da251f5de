import EventStream
import SSEServer

/// What a proxy reports as traffic passes, in order per connection: each connection is numbered from
/// 1 in the order it asked, and everything said about it carries that number.
public enum ProxyEvent: Sendable, Hashable {
    /// A request arrived and is on its way upstream: method, target, and its headers as sent.
    case request(connection: Int, method: String, target: String, headers: [HeaderField])
    /// The upstream answered (or the proxy did, for a `reject` or an unreachable upstream).
    case response(connection: Int, status: Int, reason: String, contentType: String?, isEventStream: Bool, headers: [HeaderField])
    /// Something passed through an event stream (or was held back by a fault).
    case observed(connection: Int, EventRelay.Observation)
    /// The exchange ended, and why; `byUpstream` when the upstream ended its answer (not the client,
    /// a fault or a limit).
    case ended(connection: Int, reason: String, byUpstream: Bool)
    /// Something went wrong that is the proxy's to say: the upstream unreachable, a limit reached.
    case problem(connection: Int, String)

    /// The connection the event is about.
    public var connection: Int {
        switch self {
        case .request(let number, _, _, _), .response(let number, _, _, _, _, _), .observed(let number, _), .ended(let number, _, _),
            .problem(let number, _):
            number
        }
    }
}
