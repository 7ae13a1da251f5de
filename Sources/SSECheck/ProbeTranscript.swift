import EventStream
import SSEClient

/// What one probe connection received, in order and with times, without I/O: the response head, the
/// body bytes (de-chunked), and what EventSource would make of them — events, `retry:` fields,
/// comments — plus when bytes arrived and the longest silence between them.
///
/// Invariant: memory is bounded whatever the server sends: at most `maxEvents` events and
/// `maxBodyKept` body bytes are kept (the rest are counted), and the head is bounded by the
/// response reader's limit.
public struct ProbeTranscript: Sendable {
    /// One event and when the read that completed it arrived.
    public struct TimedEvent: Sendable {
        public var at: ContinuousClock.Instant
        public var event: ServerSentEvent
    }

    public static let maxEvents = 10_000
    public static let maxBodyKept = 256 << 10

    public let sentAt: ContinuousClock.Instant
    /// The response's status line as sent (`HTTP/1.1 200 OK`), once the head is complete.
    public private(set) var statusLine: String?
    public private(set) var head: HTTPResponseReader.Head?
    public private(set) var headAt: ContinuousClock.Instant?
    public private(set) var firstBodyAt: ContinuousClock.Instant?
    public private(set) var lastBodyAt: ContinuousClock.Instant?
    public private(set) var bodyBytes = 0
    /// The first `maxBodyKept` body bytes, for the UTF-8 check.
    public private(set) var body: [UInt8] = []
    public private(set) var events: [TimedEvent] = []
    public private(set) var eventsNotKept = 0
    public private(set) var retries: [Int] = []
    public private(set) var comments = 0
    /// Why the connection ended (nil while it is open).
    public private(set) var ending: String?
    public private(set) var endedAt: ContinuousClock.Instant?
    /// A response that broke HTTP framing or the event-stream limits.
    public private(set) var failure: String?
    /// Whether the response ended as HTTP framing says it ends (its Content-Length, its last chunk).
    public private(set) var responseComplete = false

    private var reader = HTTPResponseReader()
    private var parser = EventStreamParser(form: .events, limits: EventStreamParser.Limits(), reportsComments: true)
    private var statusLineBytes: [UInt8] = []
    private var gapWatchStart: ContinuousClock.Instant?
    private var longestGapWatched: Duration = .zero

    public init(sentAt: ContinuousClock.Instant) {
        self.sentAt = sentAt
    }

    /// Feeds bytes read from the connection at `now`.
    public mutating func received(_ bytes: UnsafeRawBufferPointer, at now: ContinuousClock.Instant) {
        if statusLine == nil { noteStatusLine(bytes) }
        var bodyRanges: [Range<Int>] = []
        do throws(HTTPResponseReader.Failure) {
            try reader.read(bytes) { item in
                switch item {
                case .head(let head):
                    self.head = head
                    headAt = now
                case .body(let range): bodyRanges.append(range)
                case .end: responseComplete = true
                }
            }
        } catch {
            failure = failure ?? "the response breaks HTTP/1.1 framing: \(error.description)"
        }
        for range in bodyRanges where !range.isEmpty { receivedBody(UnsafeRawBufferPointer(rebasing: bytes[range]), at: now) }
    }

    private mutating func receivedBody(_ bytes: UnsafeRawBufferPointer, at now: ContinuousClock.Instant) {
        if let gapWatchStart {
            longestGapWatched = max(longestGapWatched, now - max(lastBodyAt ?? gapWatchStart, gapWatchStart))
        }
        firstBodyAt = firstBodyAt ?? now
        lastBodyAt = now
        bodyBytes += bytes.count
        if body.count < Self.maxBodyKept { body += bytes.prefix(Self.maxBodyKept - body.count) }
        guard failure == nil else { return }
        do throws(EventStreamError) {
            try parser.parse(bytes) { output in
                switch output {
                case .event(let event):
                    if events.count < Self.maxEvents { events.append(TimedEvent(at: now, event: event)) } else { eventsNotKept += 1 }
                case .retry(let milliseconds): if retries.count < 100 { retries.append(milliseconds) }
                case .comment: comments += 1
                }
            }
        } catch {
            failure = "the body is not a valid event stream: \(error)"
        }
    }

    private mutating func noteStatusLine(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") || statusLineBytes.count >= 200 {
                statusLine = String(decoding: statusLineBytes, as: UTF8.self).trimmingSuffix("\r")
                return
            }
            statusLineBytes.append(byte)
        }
    }

    /// The connection ended at `now`, for `reason`.
    public mutating func ended(_ reason: String, at now: ContinuousClock.Instant) {
        guard ending == nil else { return }
        ending = reason
        endedAt = now
    }

    /// From `now` on, `longestGap(until:)` measures the silences between body bytes.
    public mutating func watchGaps(from now: ContinuousClock.Instant) {
        gapWatchStart = now
        longestGapWatched = .zero
    }

    /// The longest time without body bytes since `watchGaps`, counting the silence up to `now`.
    public func longestGap(until now: ContinuousClock.Instant) -> Duration {
        guard let start = gapWatchStart else { return .zero }
        let tail = (endedAt ?? now) - max(lastBodyAt ?? start, start)
        return max(longestGapWatched, tail)
    }

    /// The events whose data starts with `marker`, in arrival order.
    public func events(marked marker: String) -> [TimedEvent] {
        events.filter { $0.event.data.hasPrefix(marker) }
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
