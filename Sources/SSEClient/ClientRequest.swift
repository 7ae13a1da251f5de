/// What the SSE client sends: method, URL, headers, body and an initial `Last-Event-ID`.
///
/// The defaults are the request a browser's `EventSource` makes: GET with
/// `Accept: text/event-stream` and `Cache-Control: no-cache`, and no `Last-Event-ID` header.
public struct ClientRequest: Sendable, Hashable {
    public var url: String
    public var method: String
    /// Extra headers in the order given; they replace defaults of the same name.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    public var lastEventId: String

    public init(url: String, method: String = "GET", headers: [(name: String, value: String)] = [], body: [UInt8]? = nil, lastEventId: String = "") {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.lastEventId = lastEventId
    }

    /// The headers to send: the EventSource defaults, then the user's, then `Last-Event-ID` when set.
    public var effectiveHeaders: [(name: String, value: String)] {
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

    public static func == (lhs: ClientRequest, rhs: ClientRequest) -> Bool {
        lhs.url == rhs.url && lhs.method == rhs.method && lhs.body == rhs.body && lhs.lastEventId == rhs.lastEventId
            && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(url)
        hasher.combine(method)
        hasher.combine(body)
        hasher.combine(lastEventId)
    }
}
