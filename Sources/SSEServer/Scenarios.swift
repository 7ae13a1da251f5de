import EventStream

/// A request that reached a stream with a scenario, as the scenario sees it (`${request.…}` in the
/// workbench's `on-connect` blocks).
public struct IncomingRequest: Sendable, Hashable {
    public var method: String
    /// The path as sent, without the query.
    public var path: String
    /// The query's parameters, percent-decoded; the first of a repeated name wins.
    public var query: [String: String]
    public var headers: [HeaderField]
    /// The body as sent (at most `ServerLimits.maxBodySize` bytes).
    public var body: [UInt8]
    public var remote: String

    public init(method: String, path: String, query: [String: String] = [:], headers: [HeaderField] = [], body: [UInt8] = [], remote: String = "") {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remote = remote
    }

    /// The first header named `name` (compared without case).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }
}

/// A connection held for a stream's scenario: it is answered when the scenario calls
/// `SSEServer.accept(_:)` or `SSEServer.reject(_:_:)`, and closes unanswered if neither comes.
public struct PendingConnection: Sendable, Hashable {
    /// What names the connection until it is answered.
    public var ticket: Int
    public var stream: String
    /// 1 for the first connection the stream's scenario was given, 2 for the next, and so on.
    public var number: Int
    public var request: IncomingRequest
}

/// Called, on the server's loop, with each connection to a stream that has a scenario.
public typealias ScenarioHandler = @Sendable (PendingConnection) -> Void

/// A stream served at a path of its own, for the methods given (`stream chat path=/v1/chat method=POST`):
/// how a mock stands in for someone's real endpoint. The stream stays at `/streams/NAME` as well.
///
/// Invariant: `path` is normalized (`/` and percent-decoded segments, no query), not `/` and not
/// under `/streams`; `methods` are upper-case HTTP tokens, at least one.
public struct StreamRoute: Sendable, Hashable {
    public var stream: String
    public var path: String
    public var methods: [String]

    /// Checks and normalizes `path` and `methods` (GET when none), naming what is wrong.
    public init(stream: String, path: String, methods: [String]) throws(ServerError) {
        try StreamName.validate(stream)
        guard path.hasPrefix("/") else { throw .invalidRoute("the path \(path.debugDescription) must start with /") }
        guard path.utf8.count <= 1024 else { throw .invalidRoute("the path is longer than 1024 bytes") }
        guard path.utf8.allSatisfy({ (0x21...0x7E).contains($0) }), !path.contains("?"), !path.contains("#") else {
            throw .invalidRoute("the path \(path.debugDescription) may not hold spaces, controls, non-ASCII characters, ? or #; escape them as %XX")
        }
        guard let normalized = Self.normalized(path) else {
            throw .invalidRoute("the path \(path.debugDescription) is not valid percent-encoded UTF-8")
        }
        guard normalized != "/" else { throw .invalidRoute("the path / is the viewer page; give the stream a path of its own") }
        guard normalized != "/streams", !normalized.hasPrefix("/streams/") else {
            throw .invalidRoute("paths under /streams are drip's own; give the stream another path")
        }
        let methods = methods.isEmpty ? ["GET"] : methods.map { $0.uppercased() }
        for method in methods where !HTTPSyntax.isToken(method) {
            throw .invalidRoute("the method \(method.debugDescription) is not an HTTP token")
        }
        for method in methods where method == "OPTIONS" {
            throw .invalidRoute("OPTIONS is answered by drip itself (CORS preflight)")
        }
        self.stream = stream
        self.path = normalized
        self.methods = methods.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    /// `/` followed by the path's percent-decoded segments joined by `/` (empty segments dropped):
    /// how a request's path and a route's are compared. Nil when an escape is malformed.
    static func normalized(_ path: String) -> String? {
        var segments: [String] = []
        for raw in path.split(separator: "/", omittingEmptySubsequences: true) {
            guard let segment = Request.percentDecoded(raw, plusIsSpace: false) else { return nil }
            segments.append(segment)
        }
        return "/" + segments.joined(separator: "/")
    }

    /// `GET,POST /v1/chat → chat`.
    public var description: String { "\(methods.joined(separator: ",")) \(path) → \(stream)" }
}

extension ServerCore {
    /// Gives `route.stream` its route (replacing one it had); a path another stream has is an error
    /// naming both.
    func setRoute(_ route: StreamRoute) throws(ServerError) {
        if let taken = routes[route.path], taken.stream != route.stream {
            throw .invalidRoute("the path \(route.path) is already the route of stream \(taken.stream); stream \(route.stream) cannot have it too")
        }
        _ = try stream(named: route.stream, keep: true)
        routes = routes.filter { $0.value.stream != route.stream }
        routes[route.path] = route
    }
}
