import EventStream

/// The one writer of the HTTP/1.1 requests drip sends — the client's, `post`'s and `drip load`'s
/// subscribers and publisher — and the one reader of a `Name: value` header as a person types it.
///
/// Invariant: a `RequestHead` that exists is safe to put on the wire: its method and every header
/// name are tokens (RFC 9110 §5.6.2), every header value is a field value (no CR, LF, NUL or other
/// control but HTAB, §5.5), and its target is visible ASCII; `init` refuses anything else with an
/// error that names it. Nothing a user or a server hands drip can split a request.
public struct RequestHead: Sendable {
    public let method: String
    public let url: HTTPURL
    public let headers: [(name: String, value: String)]

    /// Checks every part; `Host` and `Content-Length` among `headers` are left out (`bytes` writes them).
    public init(method: String, url: HTTPURL, headers: [(name: String, value: String)]) throws(RequestError) {
        guard HTTPSyntax.isToken(method) else { throw RequestError("the method \(method.debugDescription) is not an HTTP token") }
        guard !url.target.isEmpty, url.target.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw RequestError("the request target \(url.target.debugDescription) holds a space, a control or a non-ASCII character")
        }
        for header in headers {
            guard HTTPSyntax.isToken(header.name) else { throw RequestError("the header name \(header.name.debugDescription) is not an HTTP token") }
            guard HTTPSyntax.isFieldValue(header.value) else {
                throw RequestError("the value of header \(header.name) holds CR, LF, NUL or another control character")
            }
        }
        self.method = method
        self.url = url
        self.headers = headers.filter { !["host", "content-length"].contains($0.name.lowercased()) }
    }

    /// The head's bytes: request line, `Host`, the headers, then `Content-Length` when given.
    /// `http10` writes an HTTP/1.0 request line (what `drip check server`'s `http1.0` check sends).
    public func bytes(contentLength: Int?, http10: Bool = false) -> [UInt8] {
        var text = "\(method) \(url.target) HTTP/1.\(http10 ? 0 : 1)\r\nHost: \(url.hostHeader)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let contentLength { text += "Content-Length: \(contentLength)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// A header as written on a command line or in a script, `Name: value` (blanks around the value
    /// dropped), checked as `init` checks headers.
    public static func header(parsing line: String) throws(RequestError) -> (name: String, value: String) {
        guard let colon = line.firstIndex(of: ":") else { throw RequestError("header \(line.debugDescription) is not 'Name: value'") }
        let name = String(line[..<colon])
        var value = line[line.index(after: colon)...]
        while value.first == " " || value.first == "\t" { value.removeFirst() }
        while value.last == " " || value.last == "\t" { value.removeLast() }
        guard HTTPSyntax.isToken(name) else { throw RequestError("header \(line.debugDescription): \(name.debugDescription) is not a header name") }
        guard HTTPSyntax.isFieldValue(String(value)) else {
            throw RequestError("header \(name): its value holds CR, LF, NUL or another control character")
        }
        return (name, String(value))
    }
}

/// A request drip will not send, and why.
public struct RequestError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
