import EventStream

/// The spec's connection rules for one `EventSource`, with no I/O and no clock: it is told what
/// happened (a response head, a lost connection, a `retry:` field, a close) and answers what to do.
///
/// - 200 with a `text/event-stream` essence opens the stream; 204 stops it for good; another status
///   or content type fails it for good; 301/302/303/307/308 are followed (at most `maxRedirects`),
///   without credentials once they leave the original origin, and never from https down to http
///   unless `allowsInsecureRedirects`.
/// - An open stream that ends or breaks reconnects after the reconnection time (changed by `retry:`,
///   shaped by the `ReconnectPolicy`), to the original URL, until the policy gives up.
/// - A network failure before the stream ever opened fails at once, unless `retriesInitialConnection`.
///
/// Invariant: once `readyState` is `.closed`, every input answers `.closed` again.
public struct EventSourceStateMachine: Sendable {
    /// The reason of a `.close` the user asked for (`close()`).
    public static let closedByUser = "closed by the user"

    /// An EventSource's `readyState`: connecting (also while waiting to reconnect), open, closed for good.
    public enum ReadyState: String, Sendable, Hashable {
        case connecting, open, closed
    }

    /// A request to make: where, and with which method (a 303, or a 301/302 after POST, turns it into GET).
    public struct Request: Sendable, Hashable {
        public var url: HTTPURL
        public var method: String
        public var sendsBody: Bool
        /// False once a redirect has left the original origin: `Authorization`, `Cookie` and
        /// `Proxy-Authorization` are not sent there.
        public var sendsCredentials: Bool

        public init(url: HTTPURL, method: String, sendsBody: Bool, sendsCredentials: Bool = true) {
            self.url = url
            self.method = method
            self.sendsBody = sendsBody
            self.sendsCredentials = sendsCredentials
        }
    }

    /// What the machine asks its driver to do next: connect, treat the stream as open, wait before
    /// reconnecting, or stop.
    public enum Action: Sendable, Hashable {
        /// Make this request now.
        case connect(Request)
        /// The response was accepted: the stream is open.
        case open
        /// Wait this long, then call `reconnect()`.
        case wait(Duration, reason: String)
        /// Stop for good; `isFailure` is false for a 204 or a close by the user.
        case closed(reason: String, isFailure: Bool)
    }

    public let originalURL: HTTPURL
    public let method: String
    public var policy: ReconnectPolicy
    public var reconnects: Bool
    public var retriesInitialConnection: Bool
    public var maxRedirects: Int
    /// Follow a redirect from https to plain http (refused by default: it would expose the request).
    public var allowsInsecureRedirects = false
    public private(set) var readyState = ReadyState.connecting
    /// The reconnection time: 3000 ms until a `retry:` field changes it.
    public private(set) var reconnectionTime = ReconnectPolicy.defaultReconnectionTime
    /// Consecutive failed attempts since the stream was last open.
    public private(set) var attempt = 0
    public private(set) var hasOpened = false
    private var current: Request
    private var redirects = 0
    private var closedReason: (String, Bool)?

    public init(
        url: HTTPURL, method: String = "GET", policy: ReconnectPolicy = ReconnectPolicy(), reconnects: Bool = true,
        retriesInitialConnection: Bool = false, maxRedirects: Int = 10,
        reconnectionTime: Duration = ReconnectPolicy.defaultReconnectionTime
    ) {
        self.reconnectionTime = reconnectionTime
        self.originalURL = url
        self.method = method
        self.policy = policy
        self.reconnects = reconnects
        self.retriesInitialConnection = retriesInitialConnection
        self.maxRedirects = maxRedirects
        self.current = Request(url: url, method: method, sendsBody: true)
    }

    /// The first request.
    public mutating func start() -> Action {
        if let closed = closedAction { return closed }
        readyState = .connecting
        return .connect(current)
    }

    /// A response head arrived for the current request.
    public mutating func received(status: Int, location: String?, contentType: String?) -> Action {
        if let closed = closedAction { return closed }
        switch status {
        case 200:
            guard let contentType, Self.isEventStream(contentType) else {
                return close(
                    "the response is \(contentType.map { "of type \($0.debugDescription)" } ?? "without a content type"), not text/event-stream",
                    failure: true)
            }
            readyState = .open
            hasOpened = true
            attempt = 0
            redirects = 0
            return .open
        case 204:
            return close("the server answered 204 No Content: stop", failure: false)
        case 301, 302, 303, 307, 308:
            guard let location, !location.trimmingCharacters.isEmpty else {
                return close("HTTP \(status) redirect without a Location header", failure: true)
            }
            redirects += 1
            guard redirects <= maxRedirects else { return close("more than \(maxRedirects) redirects", failure: true) }
            let target: HTTPURL
            do { target = try current.url.resolving(location) } catch {
                return close("HTTP \(status) redirect to an unusable Location \(location.debugDescription): \(error)", failure: true)
            }
            if current.url.isSecure, !target.isSecure, !allowsInsecureRedirects {
                return close("HTTP \(status) redirect from https down to \(target); refused (allow it with --allow-insecure-redirect)", failure: true)
            }
            let toGET = status == 303 || ((status == 301 || status == 302) && current.method == "POST")
            current = Request(
                url: target, method: toGET ? "GET" : current.method, sendsBody: toGET ? false : current.sendsBody,
                sendsCredentials: current.sendsCredentials && target.isSameOrigin(as: originalURL))
            return .connect(current)
        default:
            return close("the server answered HTTP \(status)", failure: true)
        }
    }

    /// A `retry:` field set the reconnection time; a server's value past `DurationValue.maximum`
    /// (7 days) is brought to it, so no wait a peer asks for can overflow a timer.
    public mutating func retryChanged(milliseconds: Int) {
        reconnectionTime = DurationValue(clampingMilliseconds: milliseconds).duration
    }

    /// The connection ended or broke (or could not be made). `reason` is kept for the reports.
    public mutating func connectionLost(reason: String, using random: inout some RandomNumberGenerator) -> Action {
        if let closed = closedAction { return closed }
        if !hasOpened, !retriesInitialConnection { return close(reason, failure: true) }
        guard reconnects else { return close("\(reason); not reconnecting", failure: readyState != .open) }
        readyState = .connecting
        attempt += 1
        guard let delay = policy.delay(reconnectionTime: reconnectionTime, attempt: attempt, using: &random) else {
            return close("\(reason); gave up after \(attempt - 1) reconnection attempt\(attempt == 2 ? "" : "s")", failure: true)
        }
        return .wait(delay, reason: reason)
    }

    /// The wait is over: request the original URL again.
    public mutating func reconnect() -> Action {
        if let closed = closedAction { return closed }
        redirects = 0
        current = Request(url: originalURL, method: method, sendsBody: true)
        return .connect(current)
    }

    /// Stops for good because of something the client found wrong with the stream (a broken limit).
    public mutating func fail(_ reason: String) -> Action {
        if let closed = closedAction { return closed }
        return close(reason, failure: true)
    }

    /// The user closed the source: nothing more happens.
    public mutating func userClosed() -> Action {
        if let closed = closedAction { return closed }
        return close(Self.closedByUser, failure: false)
    }

    private var closedAction: Action? {
        closedReason.map { .closed(reason: $0.0, isFailure: $0.1) }
    }

    private mutating func close(_ reason: String, failure: Bool) -> Action {
        readyState = .closed
        closedReason = (reason, failure)
        return .closed(reason: reason, isFailure: failure)
    }

    /// Whether a `Content-Type` value has the MIME essence `text/event-stream` (parameters allowed).
    public static func isEventStream(_ contentType: String) -> Bool {
        let essence = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return String(essence).trimmingCharacters.lowercased() == "text/event-stream"
    }
}

extension String {
    fileprivate var trimmingCharacters: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return String(text)
    }
}

extension HTTPURL {
    /// `reference` (a `Location` value) resolved against this URL as a URI reference (RFC 3986 §5.2):
    /// an absolute http(s) URL, a network-path (`//host/…`), an absolute path, a query, or a relative
    /// path merged with this one, dot segments removed; the fragment is dropped. A reference with
    /// another scheme (`file:`, `javascript:`) is refused, not read as a path.
    public func resolving(_ reference: String) throws(HTTPURLError) -> HTTPURL {
        let reference = reference.trimmingCharacters
        if let colon = reference.firstIndex(of: ":"), let first = reference.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic,
            reference[..<colon].unicodeScalars.allSatisfy({
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0))
            })
        {
            let scheme = reference[..<colon].lowercased()
            guard scheme == "http" || scheme == "https" else {
                throw HTTPURLError("\(reference.debugDescription) is a \(scheme): URL; only http and https are followed")
            }
            return try HTTPURL(parsing: reference)
        }
        if reference.hasPrefix("//") { return try HTTPURL(parsing: (isSecure ? "https:" : "http:") + reference) }
        let withoutFragment = String(reference.prefix { $0 != "#" })
        let basePath = String(target.prefix { $0 != "?" })
        var resolved = self
        let combined: String
        if withoutFragment.isEmpty {
            combined = target
        } else if withoutFragment.hasPrefix("?") {
            combined = basePath + withoutFragment
        } else {
            let pathEnd = withoutFragment.firstIndex(of: "?") ?? withoutFragment.endIndex
            var path = String(withoutFragment[..<pathEnd])
            if !path.hasPrefix("/") {
                let directory = basePath.lastIndex(of: "/").map { String(basePath[...$0]) } ?? "/"
                path = directory + path
            }
            combined = Self.removingDotSegments(path) + withoutFragment[pathEnd...]
        }
        resolved.target = try Self.target(combined, of: reference)
        return resolved
    }

    /// RFC 3986 §5.2.4 for an absolute path: `.` and `..` segments resolved, never above the root.
    static func removingDotSegments(_ path: String) -> String {
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".": if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default: output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/")
    }

    /// Whether `other` has the same scheme, host and port (the same origin, as browsers compare).
    public func isSameOrigin(as other: HTTPURL) -> Bool {
        isSecure == other.isSecure && host.lowercased() == other.host.lowercased() && port == other.port
    }
}
