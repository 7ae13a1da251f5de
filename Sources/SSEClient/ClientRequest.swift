/// What the SSE client sends: method, URL, headers, body and an initial `Last-Event-ID`.
///
/// The defaults are the request a browser's `EventSource` makes: GET with
/// `Accept: text/event-stream` and `Cache-Control: no-cache`, and no `Last-Event-ID` header.
public struct ClientRequest: Sendable {
    public var url: HTTPURL
    public var method: String
    /// Extra headers in the order given; they replace defaults of the same name.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// Sent as `Last-Event-ID` on the first request when not empty.
    public var lastEventId: String

    public init(url: HTTPURL, method: String = "GET", headers: [(name: String, value: String)] = [], body: [UInt8]? = nil, lastEventId: String = "") {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.lastEventId = lastEventId
    }

    /// The headers of a request carrying `lastEventId`: the EventSource defaults, then the user's
    /// (replacing a default of the same name), then `Last-Event-ID` unless empty or given by the user.
    public func headers(lastEventId: String) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = [("Accept", "text/event-stream"), ("Cache-Control", "no-cache")]
        for header in headers {
            result.removeAll { $0.name.lowercased() == header.name.lowercased() }
            result.append(header)
        }
        if !lastEventId.isEmpty, !result.contains(where: { $0.name.lowercased() == "last-event-id" }) {
            result.append(("Last-Event-ID", lastEventId))
        }
        return result
    }

    /// The request's bytes for `target` on `url`'s host, with `method`, carrying `lastEventId`.
    func serialized(url: HTTPURL, method: String, sendsBody: Bool, lastEventId: String) -> [UInt8] {
        var text = "\(method) \(url.target) HTTP/1.1\r\nHost: \(url.hostHeader)\r\n"
        for (name, value) in headers(lastEventId: lastEventId) where name.lowercased() != "host" && name.lowercased() != "content-length" {
            text += "\(name): \(Self.headerSafe(value))\r\n"
        }
        let body = sendsBody ? (self.body ?? []) : []
        if sendsBody, self.body != nil || method == "POST" || method == "PUT" { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        return Array(text.utf8) + body
    }

    private static func headerSafe(_ value: String) -> String {
        String(value.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }
}
