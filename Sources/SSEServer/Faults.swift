import EventStream

/// Which subscribers a fault or a publish reaches: every client of a stream, or one client by its id.
public enum Audience: Sendable, Hashable {
    case stream(String)
    case client(Int)
}

/// How the server ends a subscriber's connection on purpose.
public enum DropMode: String, Sendable, Hashable, CaseIterable {
    /// The chunked body is ended properly, then the connection closed: a clean end of stream.
    case clean
    /// The connection is closed without ending the chunked body: the client sees a truncated response.
    case truncate
    /// `SO_LINGER {1, 0}` then close: the client sees a TCP reset. On an HTTP/2 stream, as `stream`.
    case reset
    /// On HTTP/2, RST_STREAM: this stream breaks and the others of its connection go on. On an
    /// HTTP/1.1 connection, where the stream is the connection, as `truncate`.
    case stream
    /// On HTTP/2, GOAWAY then close: every stream of the connection breaks at once. On an HTTP/1.1
    /// connection, as `truncate`.
    case connection
}

/// A malformation written into the stream once, to see how a client copes.
public enum Corruption: Sendable, Hashable {
    /// The next event's line ends are bare CRs.
    case bareCarriageReturns
    /// The next event's data carries bytes that are not UTF-8 (FF FE).
    case invalidUTF8
    /// A `data:` line of this many bytes (at most `maxLongLine`) is written before the next event.
    case longLine(Int)

    /// The longest line `longLine` writes: 64 MiB, far past any client's line limit.
    public static let maxLongLine = 64 << 20
    /// The next event is written without the blank line that dispatches it.
    case noBlankLine
}

extension Corruption {
    /// `bytes` (one event as written, or a block of someone else's stream) malformed this way.
    package func apply(to bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .bareCarriageReturns:
            // Every line end (LF, or CRLF in someone else's stream) becomes a lone CR.
            var result: [UInt8] = []
            result.reserveCapacity(bytes.count)
            for (index, byte) in bytes.enumerated() where !(byte == UInt8(ascii: "\n") && index > 0 && bytes[index - 1] == UInt8(ascii: "\r")) {
                result.append(byte == UInt8(ascii: "\n") ? UInt8(ascii: "\r") : byte)
            }
            return result
        case .invalidUTF8:
            guard let dataStart = bytes.firstRange(of: Array("data:".utf8))?.upperBound else { return bytes }
            var corrupted = bytes
            let insertAt = dataStart < corrupted.count && corrupted[dataStart] == UInt8(ascii: " ") ? dataStart + 1 : dataStart
            corrupted.insert(contentsOf: [0xFF, 0xFE], at: insertAt)
            return corrupted
        case .longLine(let size):
            return Array("data: ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: max(0, size - 6)) + [UInt8(ascii: "\n")] + bytes
        case .noBlankLine:
            // The blank line's line end goes: LF, CR, or both bytes of a CRLF.
            if bytes.suffix(2).elementsEqual([UInt8(ascii: "\r"), UInt8(ascii: "\n")]) { return Array(bytes.dropLast(2)) }
            return bytes.last == UInt8(ascii: "\n") || bytes.last == UInt8(ascii: "\r") ? Array(bytes.dropLast()) : bytes
        }
    }
}

/// One `Name: value` header of a response drip writes on a script's behalf.
public struct HeaderField: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// How a connection to a stream is answered instead of being subscribed: a status with drip's own
/// body, a script's body and headers (what a real API answers: `401` with a JSON error and
/// `WWW-Authenticate`, `429` with `Retry-After`), a redirect, or a 200 that is not an event stream.
///
/// Invariant: a rejection the server accepted (`validated()`) is safe on the wire: its status is
/// 100 to 599, every header name is a token and every value a field value, it sets none of the
/// headers that frame the response, and its body is at most `maxBodySize` bytes.
public struct Rejection: Sendable, Hashable {
    public var status: Int
    /// The body; nil for drip's own line naming the fault.
    public var body: String?
    public var headers: [HeaderField]
    /// The body's type; nil for `application/json` when the body is JSON, `text/plain` otherwise.
    public var contentType: String?

    public init(status: Int, body: String? = nil, headers: [HeaderField] = [], contentType: String? = nil) {
        self.status = status
        self.body = body
        self.headers = headers
        self.contentType = contentType
    }

    /// Any status without a body of events: 204 (stop), 4xx, 5xx.
    public static func status(_ status: Int) -> Rejection { Rejection(status: status) }

    /// A redirect (301, 302, 303, 307, 308) to `location`.
    public static func redirect(_ status: Int, location: String) -> Rejection {
        Rejection(status: status, body: "redirecting to \(location)\n", headers: [HeaderField(name: "Location", value: location)])
    }

    /// 200 with a content type that is not `text/event-stream`.
    public static func wrongContentType(_ type: String) -> Rejection {
        Rejection(status: 200, body: "data: this is not an event stream\n\n", contentType: type)
    }

    /// The most connections one `reject` answers: 1,000,000.
    public static let maxCount = 1_000_000
    /// The longest body a rejection carries: 1 MiB.
    public static let maxBodySize = 1 << 20
    /// Headers drip writes itself, which a rejection may not set.
    static let framingHeaders: Set<String> = ["content-length", "transfer-encoding", "connection"]

    /// Throws, naming the part, unless the rejection can go on the wire as it is.
    public func validated() throws(ServerError) -> Rejection {
        guard (100...599).contains(status) else { throw .outOfRange("status \(status) is not an HTTP status (100 to 599)") }
        if let body, body.utf8.count > Self.maxBodySize {
            throw .outOfRange("a rejection's body of \(body.utf8.count) bytes is over the limit of \(Self.maxBodySize) (1 MiB)")
        }
        for header in headers {
            guard HTTPSyntax.isToken(header.name) else { throw .outOfRange("header name \(header.name.debugDescription) is not an HTTP token") }
            guard HTTPSyntax.isFieldValue(header.value) else {
                throw .outOfRange("the value of header \(header.name) holds CR, LF, NUL or another control character")
            }
            guard !Self.framingHeaders.contains(header.name.lowercased()) else {
                throw .outOfRange("header \(header.name) frames the response; drip writes it itself")
            }
        }
        if let contentType, !HTTPSyntax.isFieldValue(contentType) {
            throw .outOfRange("the content type \(contentType.debugDescription) holds a control character")
        }
        return self
    }
}

/// Why a publish or a fault could not be applied.
public enum ServerError: Error, Hashable, Sendable, CustomStringConvertible {
    case bindFailed(address: String, reason: String)
    case notRunning
    case invalidStreamName(String)
    case noSuchClient(Int)
    case invalidEvent(String)
    /// A fault's count or size outside what the server takes; the message names the bound.
    case outOfRange(String)
    /// A configuration the server refuses to start with.
    case invalidConfiguration(String)
    /// A server-wide limit (`ServerLimits`) is reached; the message names it.
    case limitReached(String)
    /// A connection a scenario was to answer closed (or was answered) first.
    case connectionClosed
    /// A route the server cannot take; the message names the path and why.
    case invalidRoute(String)

    public var description: String {
        switch self {
        case .bindFailed(let address, let reason): "cannot listen on \(address): \(reason)"
        case .notRunning: "the server is not running"
        case .invalidStreamName(let reason): reason
        case .noSuchClient(let id): "no client with id \(id)"
        case .invalidEvent(let reason): reason
        case .outOfRange(let reason): reason
        case .invalidConfiguration(let reason): reason
        case .limitReached(let reason): reason
        case .connectionClosed: "the connection closed before it was answered"
        case .invalidRoute(let reason): reason
        }
    }
}

/// What a publish did: the id the event got (nil when it has none) and how many subscribers it reached.
public struct PublishReceipt: Sendable, Hashable {
    public var id: String?
    public var clients: Int

    public init(id: String?, clients: Int) {
        self.id = id
        self.clients = clients
    }
}

/// Something the server did that a person watching may want to see.
public enum ServerLogEntry: Sendable, Hashable, CustomStringConvertible {
    case listening(url: String)
    case connected(client: Int, stream: String, remote: String, lastEventId: String?)
    case disconnected(client: Int, stream: String, reason: String)
    case published(stream: String, id: String?, type: String, clients: Int)
    case rejected(stream: String, status: Int, remote: String)
    case requestError(remote: String, status: Int, reason: String)
    /// Accepting failed for want of file descriptors; new connections are answered 503 meanwhile.
    case descriptorsExhausted(limit: Int)
    /// A connection was accepted again after `descriptorsExhausted`.
    case descriptorsRecovered(refused: Int)
    /// An accepted connection could not be made a channel (an option, a handler or registering
    /// failed); NIO closed it.
    case connectionSetupFailed(reason: String)
    /// A resuming client was sent `count` events from history again (they followed its Last-Event-ID,
    /// or all of them when the id was unknown): delivery is at least once, not exactly once.
    case replayed(client: Int, stream: String, count: Int, lastEventId: String, known: Bool)
    /// The first event without an id went into a stream's history: a client that reconnects after
    /// it resumes from the id before, and gets it again.
    case idlessInHistory(stream: String)
    case stopped

    public var description: String { description(clientName: nil) }

    /// The stream the entry is about, if it is about one.
    public var streamName: String? {
        switch self {
        case .connected(_, let stream, _, _), .disconnected(_, let stream, _), .published(let stream, _, _, _), .rejected(let stream, _, _),
            .replayed(_, let stream, _, _, _), .idlessInHistory(let stream):
            stream
        default: nil
        }
    }

    /// The server's number for the connection the entry is about, if it is about one.
    public var clientNumber: Int? {
        switch self {
        case .connected(let client, _, _, _), .disconnected(let client, _, _), .replayed(let client, _, _, _, _): client
        default: nil
        }
    }

    /// The entry as a line, naming the connection `client 7 (c1)` when `clientName` says whose it is.
    public func description(clientName: String?) -> String {
        let who = { (client: Int) in "client \(client)" + (clientName.map { " (\($0))" } ?? "") }
        return switch self {
        case .listening(let url): "listening on \(url)"
        case .connected(let client, let stream, let remote, let lastEventId):
            "\(who(client)) connected to \(stream) from \(remote)" + (lastEventId.map { " (Last-Event-ID: \($0))" } ?? "")
        case .disconnected(let client, let stream, let reason): "\(who(client)) left \(stream): \(reason)"
        case .published(let stream, let id, let type, let clients):
            "published \(type) to \(stream)" + (id.map { " id=\($0)" } ?? "") + " → \(clients) client\(clients == 1 ? "" : "s")"
        case .rejected(let stream, let status, let remote): "rejected \(remote) on \(stream) with \(status) (fault)"
        case .requestError(let remote, let status, let reason): "\(status) to \(remote): \(Secrets.masked(reason))"
        case .descriptorsExhausted(let limit):
            "cannot accept connections: out of file descriptors (limit \(limit)); answering new ones 503 until some are freed, open ones continue"
        case .descriptorsRecovered(let refused):
            "accepting connections again: descriptors were freed (\(refused) connection\(refused == 1 ? "" : "s") refused meanwhile)"
        case .replayed(let client, let stream, let count, let lastEventId, let known):
            "\(who(client)) on \(stream): replayed \(count) event\(count == 1 ? "" : "s") from history "
                + (known ? "after Last-Event-ID \(lastEventId)" : "(Last-Event-ID \(lastEventId.debugDescription) is not in history: all of it)")
        case .idlessInHistory(let stream):
            "warning: an event without an id went into \(stream)'s history; a client reconnecting after it resumes from the id"
                + " before and gets it again (give events ids, e.g. id=auto, for exactly-once resumption)"
        case .connectionSetupFailed(let reason): "an accepted connection could not be set up and was closed: \(reason)"
        case .stopped: "stopped"
        }
    }
}

/// How a client's connection speaks: HTTP/1.1 or an HTTP/2 stream (with its id), in clear or over TLS.
public struct Transport: Sendable, Hashable, CustomStringConvertible {
    /// "1.1" or "2".
    public var httpVersion: String
    public var isSecure: Bool
    /// The HTTP/2 stream's id; nil on HTTP/1.1.
    public var http2StreamID: Int?

    public static let plain = Transport(httpVersion: "1.1", isSecure: false, http2StreamID: nil)

    public init(httpVersion: String, isSecure: Bool, http2StreamID: Int?) {
        self.httpVersion = httpVersion
        self.isSecure = isSecure
        self.http2StreamID = http2StreamID
    }

    /// "HTTP/1.1", "HTTPS/1.1" or "h2 stream 3".
    public var description: String {
        if let http2StreamID { return "h2 stream \(http2StreamID)" }
        return isSecure ? "HTTPS/1.1" : "HTTP/1.1"
    }
}

/// A read-only picture of the server for listings (`GET /streams`, the REPL's `streams`/`clients`).
public struct ServerSnapshot: Sendable, Hashable {
    /// One subscribed connection: the server's number for it, its stream, its peer address, when it
    /// connected (seconds since 1970) and how many events it was sent.
    public struct Client: Sendable, Hashable {
        public var id: Int
        public var stream: String
        public var remote: String
        public var connectedAt: Double
        public var eventsSent: Int
        /// HTTP/1.1 or an HTTP/2 stream; streams of one HTTP/2 connection share `remote`.
        public var transport: Transport = .plain
    }

    /// One stream: its settings, how much history it holds, its last id, the event types it has
    /// carried, and its subscribers.
    public struct Stream: Sendable, Hashable {
        public var name: String
        public var settings: StreamSettings
        public var historyCount: Int
        public var lastId: String?
        public var types: [String]
        public var clients: [Client]
        /// Where the stream is served besides `/streams/NAME`, if anywhere.
        public var route: StreamRoute?
    }

    public var streams: [Stream]
}
