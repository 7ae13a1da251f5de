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

    /// The headers that carry credentials, which a redirect to another origin does not get (as
    /// browsers and curl do): `Authorization`, `Cookie` and `Proxy-Authorization`.
    public static let credentialHeaders: Set<String> = ["authorization", "cookie", "proxy-authorization"]

    /// The request's bytes for `url`, with `method`, carrying `lastEventId` (through `RequestHead`,
    /// which refuses a method, target or header that could split the request). Without
    /// `sendsCredentials` the credential headers are left out.
    public func serialized(url: HTTPURL, method: String, sendsBody: Bool, lastEventId: String, sendsCredentials: Bool = true) throws(RequestError)
        -> [UInt8]
    {
        let sent = headers(lastEventId: lastEventId).filter { sendsCredentials || !Self.credentialHeaders.contains($0.name.lowercased()) }
        let head = try RequestHead(method: method, url: url, headers: sent)
        let body = sendsBody ? (self.body ?? []) : []
        let length = sendsBody && (self.body != nil || method == "POST" || method == "PUT") ? body.count : nil
        return head.bytes(contentLength: length) + body
    }

    /// Checks that the request can be sent as it stands (its method, URL and headers).
    public func validate() throws(RequestError) {
        _ = try RequestHead(method: method, url: url, headers: headers(lastEventId: lastEventId))
    }
}
