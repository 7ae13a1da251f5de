import EventStream

/// Where the embedded SSE server listens, who may use it, and the limits it enforces.
///
/// Defaults suit a workbench: loopback only, any free port chosen by the system, any origin allowed,
/// no token, and limits that bound memory per connection.
public struct ServerConfiguration: Sendable, Hashable {
    /// The address to bind; `127.0.0.1` unless the user asks for another.
    public var host: String
    /// The port to bind; 0 asks the system for any free port.
    public var port: Int
    /// When set, streams, publishing and the listing need `Authorization: Bearer TOKEN` or `?token=TOKEN`.
    public var token: String?
    /// Origins allowed by CORS; empty means any origin.
    public var allowedOrigins: [String]
    /// Settings a stream starts with when it is created on first use.
    public var streamDefaults: StreamSettings
    public var limits: ServerLimits
    /// When set, the server speaks HTTPS only, offering HTTP/2 and HTTP/1.1 by ALPN.
    public var tls: ServerTLS?

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        token: String? = nil,
        allowedOrigins: [String] = [],
        streamDefaults: StreamSettings = StreamSettings(),
        limits: ServerLimits = ServerLimits(),
        tls: ServerTLS? = nil
    ) {
        self.host = host
        self.port = port
        self.token = token
        self.allowedOrigins = allowedOrigins
        self.streamDefaults = streamDefaults
        self.limits = limits
        self.tls = tls
    }
}

/// Bounds the server enforces; going over one is an HTTP error or a dropped client, and a log line.
public struct ServerLimits: Sendable, Hashable {
    /// Open connections at once; more are answered 503.
    public var maxConnections: Int
    /// Request body bytes (publishing); more are answered 413.
    public var maxBodySize: Int
    /// Request head bytes (request line and headers); more are answered 431.
    public var maxHeaderSize: Int
    /// Bytes queued for one subscriber that it has not read yet; past this it is dropped as too slow.
    public var maxQueuedBytes: Int
    /// A request head (or the next request on a kept-alive connection) must arrive within this many
    /// milliseconds; otherwise 408 and the connection is closed (a client trickling bytes holds nothing).
    public var requestHeadTimeoutMilliseconds: Int
    /// Data sent to a client (an event or a heartbeat) that it has not acknowledged at the TCP level
    /// after this many milliseconds ends the connection: a half-open connection, whose client's host
    /// or network vanished without a FIN or RST, is found by the next heartbeat instead of holding a
    /// slot for the kernel's ~15 minutes of retransmissions (TCP_USER_TIMEOUT, Linux; 0: the kernel's default).
    public var deadPeerTimeoutMilliseconds: Int
    /// A request body must arrive whole within this many milliseconds of its head; otherwise 408 and
    /// the connection is closed (a head announcing a body that never comes holds nothing).
    public var requestBodyTimeoutMilliseconds: Int
    /// Streams at once; a request that would create one more is answered 503.
    public var maxStreams: Int
    /// Bytes held by the history of every stream together (each event's data and its encodings);
    /// past it the oldest entries of any stream are dropped.
    public var maxHistoryBytes: Int
    /// Whether subscribers on plain HTTP/1.1 connections write frames straight to the socket (one
    /// `send(2)` while nothing waits in NIO; see `SocketWriter`). Off, every byte goes through NIO's
    /// pipeline: slower at large fan-outs, the same bytes. The tests run both ways.
    public var writesDirectly = true

    public init(
        maxConnections: Int = 10_000, maxBodySize: Int = 1 << 20, maxHeaderSize: Int = 16 << 10, maxQueuedBytes: Int = 1 << 20,
        requestHeadTimeoutMilliseconds: Int = 10_000, deadPeerTimeoutMilliseconds: Int = 30_000, requestBodyTimeoutMilliseconds: Int = 30_000,
        maxStreams: Int = 10_000, maxHistoryBytes: Int = 64 << 20
    ) {
        self.requestBodyTimeoutMilliseconds = requestBodyTimeoutMilliseconds
        self.maxStreams = maxStreams
        self.maxHistoryBytes = maxHistoryBytes
        self.requestHeadTimeoutMilliseconds = requestHeadTimeoutMilliseconds
        self.deadPeerTimeoutMilliseconds = deadPeerTimeoutMilliseconds
        self.maxConnections = maxConnections
        self.maxBodySize = maxBodySize
        self.maxHeaderSize = maxHeaderSize
        self.maxQueuedBytes = maxQueuedBytes
    }
}

/// How one stream behaves: how much history it keeps, how often it sends a heartbeat comment, the
/// `retry:` it announces to each newcomer, and the current-state event each newcomer gets first.
public struct StreamSettings: Sendable, Hashable {
    /// Events kept for `Last-Event-ID` resumption (a ring of the last N).
    public var historySize: Int
    /// Interval of the `: heartbeat` comment in milliseconds; 0 sends none.
    public var heartbeatMilliseconds: Int
    /// The reconnection time announced on connect, in milliseconds; nil announces none.
    public var retryMilliseconds: Int?
    /// Sent to each new subscriber before anything else of the stream (the dashboard-channel pattern).
    public var initialEvent: ServerSentEvent?
    /// Broadcast a `viewers` event with the subscriber count whenever someone joins or leaves.
    public var announcesViewers = false
    /// Close (cleanly) subscribers that were sent no event for this many milliseconds; 0 never.
    public var idleTimeoutMilliseconds = 0

    public init(historySize: Int = 100, heartbeatMilliseconds: Int = 15_000, retryMilliseconds: Int? = nil, initialEvent: ServerSentEvent? = nil) {
        self.historySize = historySize
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.retryMilliseconds = retryMilliseconds
        self.initialEvent = initialEvent
    }
}
