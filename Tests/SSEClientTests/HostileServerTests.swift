import EventStream
import SSEClient
import TestSupport
import Testing

/// What a hostile or broken server can make the client do (issue 15): it must never trap, leak
/// credentials, or lose what was valid before the fault.
@Suite("Client: hostile servers", .serialized)
struct HostileServerTests {
    @Test("Content-Length: -5 is a malformed response, not a crash (15.1)")
    func negativeContentLength() async throws {
        let server = try ScriptedServer([
            [.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: -5\r\n\r\ndata: x\n\n"), .close]
        ])
        let seen = await runClient(try options(port: server.port))
        #expect(seen.closed == .closed(reason: #"malformed response: malformed Content-Length "-5""#, isFailure: true))
        let exchange = await #expect(throws: HTTPResponseReader.Failure.self) {
            try await HTTPExchange.send("POST", to: try HTTPURL(parsing: "http://127.0.0.1:\(server.port)/p"))
        }
        #expect(exchange?.description == #"malformed Content-Length "-5""#)
    }

    @Test("an open and the events before a framing error in the same read are delivered first (15.17)")
    func goodDataBeforeFramingError() async throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        let server = try ScriptedServer([[.send(head + "14\r\ndata: before-error\n\n\r\nzz\r\n"), .hold]])
        let seen = await runClient(try options(port: server.port) { $0.reconnects = false })
        #expect(seen.contains(.open(status: 200)))
        #expect(seen.events.map(\.data) == ["before-error"])
        #expect(seen.closed == .closed(reason: #"malformed response: malformed chunk size "zz"; not reconnecting"#, isFailure: false))
    }

    @Test("Authorization, Cookie and Proxy-Authorization are not sent to another origin after a redirect (15.7)")
    func credentialsNotForwarded() async throws {
        let other = try ScriptedServer([[.send(ScriptedServer.status(204, "No Content")), .close]])
        let first = try ScriptedServer([
            [.send(ScriptedServer.status(302, "Found", headers: ["Location: http://127.0.0.1:\(other.port)/elsewhere"])), .close]
        ])
        _ = await runClient(
            try options(port: first.port) {
                $0.request.headers = [("Authorization", "Bearer S"), ("Cookie", "a=b"), ("Proxy-Authorization", "Basic x"), ("X-Kept", "1")]
            })
        let toFirst = try #require(first.requests.first)
        #expect(toFirst.contains("Authorization: Bearer S\r\n") && toFirst.contains("Cookie: a=b\r\n"))
        let toOther = try #require(other.requests.first)
        #expect(toOther.hasPrefix("GET /elsewhere HTTP/1.1\r\n"))
        #expect(!toOther.lowercased().contains("authorization") && !toOther.lowercased().contains("cookie"))
        #expect(toOther.contains("X-Kept: 1\r\n"))
    }

    @Test("a redirect to a Location with a space is sent percent-encoded, never as a broken request line (15.18)")
    func locationWithSpace() async throws {
        let server = try ScriptedServer([
            [.send(ScriptedServer.status(307, "Temporary Redirect", headers: ["Location: /a b"])), .close],
            [.send(ScriptedServer.status(204, "No Content")), .close],
        ])
        _ = await runClient(try options(port: server.port))
        #expect(server.requests.count == 2)
        #expect(server.requests.last?.hasPrefix("GET /a%20b HTTP/1.1\r\n") == true)
    }
}

/// The one request writer refuses anything that could split a request (15.15).
@Suite("Client: the request writer")
struct RequestHeadTests {
    let url = HTTPURL(host: "127.0.0.1", port: 8080, target: "/s")

    @Test(
        "a method, header name or header value that is not a token / field value is refused, naming it",
        arguments: [
            ("GET\r\nX: y", "a", "b", "the method \"GET\\r\\nX: y\" is not an HTTP token"),
            ("G ET", "a", "b", "the method \"G ET\" is not an HTTP token"),
            ("GET", "X\r\nInjected", "b", "the header name \"X\\r\\nInjected\" is not an HTTP token"),
            ("GET", "X:Y", "b", "the header name \"X:Y\" is not an HTTP token"),
            ("GET", "X", "b\r\nInjected: 1", "the value of header X holds CR, LF, NUL or another control character"),
            ("GET", "X", "b\u{0}", "the value of header X holds CR, LF, NUL or another control character"),
        ])
    func refused(method: String, name: String, value: String, message: String) {
        #expect(throws: RequestError(message)) { try RequestHead(method: method, url: url, headers: [(name, value)]) }
    }

    @Test("a target with a space or a control is refused; a valid head is written as given, Host and length first")
    func target() throws {
        var bad = url
        bad.target = "/a b"
        #expect(throws: RequestError.self) { try RequestHead(method: "GET", url: bad, headers: []) }
        bad.target = "/a\r\nX: y"
        #expect(throws: RequestError.self) { try RequestHead(method: "GET", url: bad, headers: []) }
        let head = try RequestHead(method: "POST", url: url, headers: [("X-A", "tab\tand UTF-8 é"), ("Host", "evil"), ("Content-Length", "9")])
        #expect(
            String(decoding: head.bytes(contentLength: 3), as: UTF8.self)
                == "POST /s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-A: tab\tand UTF-8 é\r\nContent-Length: 3\r\n\r\n")
    }

    @Test("a typed header is 'Name: value' with blanks around the value dropped; anything else is named")
    func typedHeaders() throws {
        #expect(try RequestHead.header(parsing: "Authorization:   Bearer T  ") == ("Authorization", "Bearer T"))
        #expect(throws: RequestError("header \"novalue\" is not 'Name: value'")) { try RequestHead.header(parsing: "novalue") }
        #expect(throws: RequestError.self) { try RequestHead.header(parsing: "Bad Name: v") }
        #expect(throws: RequestError.self) { try RequestHead.header(parsing: "X: a\rb") }
    }
}
