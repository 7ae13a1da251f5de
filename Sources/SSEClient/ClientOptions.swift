import EventStream
import ScriptClock

/// How a client connects, reconnects and reads.
public struct ClientOptions: Sendable {
    public var request: ClientRequest
    public var policy: ReconnectPolicy
    /// Reconnect when an open stream ends or breaks (the spec's behaviour); false closes instead.
    public var reconnects: Bool
    /// Retry when the very first connection cannot be made (browsers do); false fails at once.
    public var retriesInitialConnection: Bool
    /// A stream silent for this long counts as broken (then reconnects like any break).
    public var readTimeout: Duration?
    public var connectTimeout: Duration
    public var limits: EventStreamParser.Limits
    /// Report body bytes as they are read (after de-chunking), one `.raw` per read.
    public var reportsRawBytes: Bool
    /// The reconnection time before any `retry:` field.
    public var initialReconnectionTime: Duration
    public var tls: TLSOptions
    /// Divides the client's timers (reconnection waits and the read timeout); shared with a workbench
    /// so `drip run --speed` compresses them with the script's own.
    public var timeScale = TimeScale()
    /// Follow a redirect from https down to plain http (`--allow-insecure-redirect`); refused otherwise.
    public var allowsInsecureRedirects = false
    /// Which HTTP to speak over https (`--http2`, `--http1.1`).
    public var httpVersion = HTTPVersionChoice.any
    /// The largest read from the socket: reads start at 2 KiB and grow to this on a fast stream
    /// (rounded up to a power of two; at least 2 KiB, at most NIO's 1 GiB). The default suits many
    /// clients in one process; `drip connect`, alone, reads more at a time.
    public var maximumReadSize = ClientOptions.defaultMaximumReadSize
    public static let defaultMaximumReadSize = 128 << 10
    /// Whether, for a server on this machine (`127.0.0.0/8`, `::1`, `localhost`), the socket's
    /// receive buffer is fixed at `LocalReceiveBuffer.size` when the system grants a socket that
    /// much, instead of left to TCP's autotuning: for one client alone in its process (`drip connect`).
    /// Autotuning sizes the buffer from what one round trip carried, and over loopback a round trip
    /// carries little, so a fast local sender keeps waiting on the window (and its sends run in the
    /// reader's window updates): 1 to 3 ms off `scripts/bench/connect`'s 50 MB.
    public var fixesLocalReceiveBuffer = false

    public init(
        request: ClientRequest, policy: ReconnectPolicy = ReconnectPolicy(), reconnects: Bool = true, retriesInitialConnection: Bool = false,
        readTimeout: Duration? = nil, connectTimeout: Duration = .seconds(10), limits: EventStreamParser.Limits = .init(),
        reportsRawBytes: Bool = false, initialReconnectionTime: Duration = ReconnectPolicy.defaultReconnectionTime, tls: TLSOptions = TLSOptions()
    ) {
        self.initialReconnectionTime = initialReconnectionTime
        self.tls = tls
        self.request = request
        self.policy = policy
        self.reconnects = reconnects
        self.retriesInitialConnection = retriesInitialConnection
        self.readTimeout = readTimeout
        self.connectTimeout = connectTimeout
        self.limits = limits
        self.reportsRawBytes = reportsRawBytes
    }
}
