/// An `http://` or `https://` URL split into what a connection needs: scheme, host, port, and the
/// request target (path and query, as sent on the request line).
public struct HTTPURL: Sendable, Hashable, CustomStringConvertible {
    public var isSecure: Bool
    public var host: String
    public var port: Int
    /// Path and query, starting with `/`.
    public var target: String

    public init(isSecure: Bool = false, host: String, port: Int, target: String = "/") {
        self.isSecure = isSecure
        self.host = host
        self.port = port
        self.target = target
    }

    /// Parses `text`; throws with a message naming what is wrong.
    public init(parsing text: String) throws(HTTPURLError) {
        let lowered = text.lowercased()
        let rest: Substring
        if lowered.hasPrefix("http://") {
            isSecure = false
            rest = text.dropFirst(7)
        } else if lowered.hasPrefix("https://") {
            isSecure = true
            rest = text.dropFirst(8)
        } else {
            throw HTTPURLError("\(text.debugDescription) is not an http:// or https:// URL")
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = try Self.target(String(rest[authorityEnd...].prefix { $0 != "#" }), of: text)
        if path.isEmpty || path.first == "?" { path = "/" + path }
        target = path
        guard !authority.isEmpty, !authority.contains("@") else { throw HTTPURLError("\(text.debugDescription) has no host") }
        var hostPart = authority
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw HTTPURLError("\(text.debugDescription) has an unclosed [ in its host") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.first == ":" {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw HTTPURLError("\(text.debugDescription) has text after its host")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw HTTPURLError("\(text.debugDescription) has no host") }
        // A registered name's letters, digits and -._~% (RFC 3986 §3.2.2), or an IPv6 literal's.
        let others = authority.first == "[" ? ":.%" : "-._~%"
        guard hostPart.utf8.allSatisfy({ Self.isASCIIAlphanumeric($0) || others.utf8.contains($0) }) else {
            throw HTTPURLError("\(text.debugDescription) has a character that cannot be in a host name")
        }
        host = String(hostPart)
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw HTTPURLError("\(text.debugDescription) has port \(String(portText).debugDescription), not a number from 1 to 65535")
            }
            self.port = port
        } else {
            port = isSecure ? 443 : 80
        }
    }

    /// A path and query as a request line can carry them: spaces and non-ASCII characters
    /// percent-encoded (as browsers send them), any control character refused.
    static func target(_ raw: String, of text: String) throws(HTTPURLError) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(raw.utf8.count)
        for byte in raw.utf8 {
            switch byte {
            case 0..<0x20, 0x7F: throw HTTPURLError("\(text.debugDescription) has a control character in its path")
            case 0x21..<0x7F where !"\"<>".utf8.contains(byte): encoded.append(byte)
            default: encoded += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// ALPHA or DIGIT (RFC 5234): the letters of host names and HTTP tokens.
    static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: false
        }
    }

    /// The `Host` header value.
    public var hostHeader: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return port == (isSecure ? 443 : 80) ? bracketed : "\(bracketed):\(port)"
    }

    public var description: String {
        "\(isSecure ? "https" : "http")://\(hostHeader)\(target)"
    }

    /// This URL as a base with `requestTarget` (a path and query from a request line) after its
    /// path: `http://h/api` and `/events?x=1` give `http://h/api/events?x=1`. The base's own query is
    /// dropped; a target that does not start with `/` (an absolute form) is taken as `/`.
    public func appending(target requestTarget: String) -> HTTPURL {
        var base = String(target.prefix { $0 != "?" })
        if base.hasSuffix("/") { base.removeLast() }
        var copy = self
        copy.target = base + (requestTarget.hasPrefix("/") ? requestTarget : "/")
        return copy
    }
}

/// Why a URL could not be used.
public struct HTTPURLError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
