import EventStream

/// Which headers cross the proxy (RFC 9110 §7.6): hop-by-hop ones — `Connection`, the fields it
/// names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, and the
/// proxy's own authentication — stop at the proxy; `Host` and `Content-Length` are written anew for
/// the next hop; everything else passes, in order, and `Via` records the proxy.
enum ForwardedHeaders {
    typealias Field = (name: String, value: String)

    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]
    /// What the proxy writes itself on each hop; `Expect` too, as the proxy forwards a request only
    /// once its whole body is in (it answers `100 Continue` itself).
    static let rewritten: Set<String> = ["host", "content-length", "expect"]
    static let via = "1.1 drip"

    /// The end-to-end fields of `fields`: without the hop-by-hop ones, those `Connection` names, and
    /// `Host` / `Content-Length`.
    static func endToEnd(_ fields: [Field]) -> [Field] {
        var dropped = hopByHop.union(rewritten)
        for field in fields where field.name.lowercased() == "connection" {
            for name in field.value.split(separator: ",") {
                dropped.insert(HTTPSyntax.trimmingWhitespace(name).lowercased())
            }
        }
        return fields.filter { !dropped.contains($0.name.lowercased()) }
    }

    /// The fields of a request on its way upstream: the end-to-end ones, `Via`, where it came from
    /// (`X-Forwarded-For`, `X-Forwarded-Host`), and `Connection: close` (one exchange per upstream
    /// connection).
    static func upstreamRequest(_ fields: [Field], clientAddress: String?) -> [Field] {
        var result = endToEnd(fields).filter { !["x-forwarded-for", "x-forwarded-host", "via"].contains($0.name.lowercased()) }
        let previousVia = fields.filter { $0.name.lowercased() == "via" }.map(\.value)
        result.append(("Via", (previousVia + [via]).joined(separator: ", ")))
        if let clientAddress {
            let previous = fields.filter { $0.name.lowercased() == "x-forwarded-for" }.map(\.value)
            result.append(("X-Forwarded-For", (previous + [clientAddress]).joined(separator: ", ")))
        }
        if let host = fields.first(where: { $0.name.lowercased() == "host" })?.value {
            result.append(("X-Forwarded-Host", host))
        }
        result.append(("Connection", "close"))
        return result
    }

    /// The fields of a response on its way downstream: the end-to-end ones and `Via`.
    static func downstreamResponse(_ fields: [Field]) -> [Field] {
        let previousVia = fields.filter { $0.name.lowercased() == "via" }.map(\.value)
        return endToEnd(fields).filter { $0.name.lowercased() != "via" } + [("Via", (previousVia + [via]).joined(separator: ", "))]
    }
}
