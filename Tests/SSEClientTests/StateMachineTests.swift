import EventStream
import SSEClient
import Testing

/// A random source that always answers the same fraction, so jitter is predictable.
struct FixedRandom: RandomNumberGenerator {
    var value: UInt64
    mutating func next() -> UInt64 { value }
}

@Suite("Client: connection rules (pure state machine, no clock)")
struct StateMachineTests {
    let url = HTTPURL(host: "127.0.0.1", port: 8080, target: "/streams/news")
    func opened() -> EventSourceStateMachine {
        var machine = EventSourceStateMachine(url: url)
        _ = machine.start()
        _ = machine.received(status: 200, location: nil, contentType: "text/event-stream")
        return machine
    }

    @Test("200 with text/event-stream opens, parameters and case allowed")
    func opens() {
        for type in ["text/event-stream", "text/event-stream;", "Text/Event-Stream; charset=utf-8", " text/event-stream ;x=y"] {
            var machine = EventSourceStateMachine(url: url)
            #expect(machine.start() == .connect(.init(url: url, method: "GET", sendsBody: true)))
            #expect(machine.received(status: 200, location: nil, contentType: type) == .open, "\(type)")
            #expect(machine.readyState == .open)
        }
    }

    @Test("a wrong or missing content type fails for good, naming the type")
    func wrongContentType() {
        var machine = EventSourceStateMachine(url: url)
        _ = machine.start()
        #expect(
            machine.received(status: 200, location: nil, contentType: "text/plain")
                == .closed(reason: #"the response is of type "text/plain", not text/event-stream"#, isFailure: true))
        var bare = EventSourceStateMachine(url: url)
        _ = bare.start()
        #expect(
            bare.received(status: 200, location: nil, contentType: nil)
                == .closed(reason: "the response is without a content type, not text/event-stream", isFailure: true))
    }

    @Test("204 stops without failure; 205, 4xx and 5xx fail for good", arguments: [204, 205, 400, 401, 404, 500, 503])
    func statuses(status: Int) {
        var random = FixedRandom(value: 0)
        var machine = opened()
        _ = machine.connectionLost(reason: "ended", using: &random)
        _ = machine.reconnect()
        let action = machine.received(status: status, location: nil, contentType: "text/event-stream")
        if status == 204 {
            #expect(action == .closed(reason: "the server answered 204 No Content: stop", isFailure: false))
        } else {
            #expect(action == .closed(reason: "the server answered HTTP \(status)", isFailure: true))
        }
        #expect(machine.readyState == .closed)
        #expect(machine.connectionLost(reason: "again", using: &random) == action)
    }

    @Test("redirects are followed: relative, absolute; 303 and a POST's 301/302 become GET", arguments: [301, 302, 303, 307, 308])
    func redirects(status: Int) throws {
        var machine = EventSourceStateMachine(url: url, method: "POST")
        _ = machine.start()
        let action = machine.received(status: status, location: "/v2/news", contentType: nil)
        let becomesGET = status != 307 && status != 308
        let target = try HTTPURL(parsing: "http://127.0.0.1:8080/v2/news")
        #expect(action == .connect(.init(url: target, method: becomesGET ? "GET" : "POST", sendsBody: !becomesGET)))
        let absolute = machine.received(status: 307, location: "https://example.test/x?y=1", contentType: nil)
        #expect(
            absolute
                == .connect(
                    .init(
                        url: try HTTPURL(parsing: "https://example.test/x?y=1"), method: becomesGET ? "GET" : "POST", sendsBody: !becomesGET,
                        sendsCredentials: false)))
    }

    @Test("credentials go only to the original origin; once a redirect left it they stay off (issue 15.7)")
    func credentialsStayHome() throws {
        var machine = EventSourceStateMachine(url: url)
        _ = machine.start()
        guard case .connect(let sameOrigin) = machine.received(status: 302, location: "/elsewhere", contentType: nil) else {
            Issue.record("not followed")
            return
        }
        #expect(sameOrigin.sendsCredentials)
        guard case .connect(let otherPort) = machine.received(status: 302, location: "http://127.0.0.1:9999/x", contentType: nil) else {
            Issue.record("not followed")
            return
        }
        #expect(!otherPort.sendsCredentials)
        guard case .connect(let back) = machine.received(status: 302, location: "http://127.0.0.1:8080/y", contentType: nil) else {
            Issue.record("not followed")
            return
        }
        #expect(!back.sendsCredentials, "a chain that left the origin does not regain the credentials")
    }

    @Test("a redirect from https down to http is refused unless allowed (issue 15.7)")
    func noDowngrade() throws {
        let secure = try HTTPURL(parsing: "https://127.0.0.1:8443/s")
        var machine = EventSourceStateMachine(url: secure)
        _ = machine.start()
        let refused = machine.received(status: 307, location: "http://127.0.0.1:8080/s", contentType: nil)
        guard case .closed(let reason, true) = refused else {
            Issue.record("followed: \(refused)")
            return
        }
        #expect(reason.contains("from https down to http://127.0.0.1:8080/s"))
        var allowing = EventSourceStateMachine(url: secure)
        allowing.allowsInsecureRedirects = true
        _ = allowing.start()
        guard case .connect(let request) = allowing.received(status: 307, location: "http://127.0.0.1:8080/s", contentType: nil) else {
            Issue.record("not followed")
            return
        }
        #expect(!request.url.isSecure && !request.sendsCredentials)
    }

    @Test(
        "a Location with another scheme is refused, not read as a path (issue 15.18)",
        arguments: ["file:///etc/passwd", "javascript:alert(1)", "ftp://h/x", "mailto:a@b"])
    func otherSchemes(location: String) {
        var machine = EventSourceStateMachine(url: url)
        _ = machine.start()
        guard case .closed(let reason, true) = machine.received(status: 302, location: location, contentType: nil) else {
            Issue.record("followed \(location)")
            return
        }
        #expect(reason.contains("only http and https are followed"))
    }

    @Test("a server's retry: past the maximum is clamped to 7 days, so the wait cannot overflow (issue 15.2)")
    func hugeRetry() {
        var machine = opened()
        machine.retryChanged(milliseconds: 9_223_372_036_855)
        #expect(machine.reconnectionTime == .milliseconds(DurationValue.maximumMilliseconds))
        machine.retryChanged(milliseconds: Int.max)
        var random = FixedRandom(value: 0)
        guard case .wait(let delay, _) = machine.connectionLost(reason: "ended", using: &random) else {
            Issue.record("no wait")
            return
        }
        #expect(delay == .milliseconds(DurationValue.maximumMilliseconds))
        #expect(delay.clampedNanoseconds == Int64(DurationValue.maximumMilliseconds) * 1_000_000)
    }

    @Test("a redirect without Location, or too many, fails")
    func badRedirects() {
        var machine = EventSourceStateMachine(url: url)
        _ = machine.start()
        #expect(
            machine.received(status: 302, location: "", contentType: nil)
                == .closed(reason: "HTTP 302 redirect without a Location header", isFailure: true))
        var looping = EventSourceStateMachine(url: url, maxRedirects: 3)
        _ = looping.start()
        for _ in 0..<3 { _ = looping.received(status: 307, location: "/again", contentType: nil) }
        #expect(looping.received(status: 307, location: "/again", contentType: nil) == .closed(reason: "more than 3 redirects", isFailure: true))
    }

    @Test("an open stream that ends reconnects after 3 s by default, to the original URL")
    func reconnectsAfterDefault() throws {
        var random = FixedRandom(value: 0)
        var machine = EventSourceStateMachine(url: url)
        _ = machine.start()
        _ = machine.received(status: 307, location: "/elsewhere", contentType: nil)
        _ = machine.received(status: 200, location: nil, contentType: "text/event-stream")
        #expect(
            machine.connectionLost(reason: "the server closed the stream", using: &random)
                == .wait(.milliseconds(3000), reason: "the server closed the stream"))
        #expect(machine.readyState == .connecting)
        #expect(machine.reconnect() == .connect(.init(url: url, method: "GET", sendsBody: true)))
    }

    @Test("retry: changes the delay, and the change persists across reconnections")
    func retryChangesDelay() {
        var random = FixedRandom(value: 0)
        var machine = opened()
        machine.retryChanged(milliseconds: 250)
        #expect(machine.connectionLost(reason: "x", using: &random) == .wait(.milliseconds(250), reason: "x"))
        _ = machine.reconnect()
        _ = machine.received(status: 200, location: nil, contentType: "text/event-stream")
        #expect(machine.connectionLost(reason: "y", using: &random) == .wait(.milliseconds(250), reason: "y"))
    }

    @Test("backoff grows per failed attempt up to the maximum, resets once open; jitter takes off at most its share")
    func backoff() {
        var random = FixedRandom(value: 0)
        var machine = EventSourceStateMachine(url: url, policy: ReconnectPolicy(backoffMultiplier: 2, maximumDelay: .seconds(10)))
        _ = machine.start()
        _ = machine.received(status: 200, location: nil, contentType: "text/event-stream")
        machine.retryChanged(milliseconds: 1000)
        var delays: [Duration] = []
        for _ in 0..<6 {
            if case .wait(let delay, _) = machine.connectionLost(reason: "x", using: &random) { delays.append(delay) }
            _ = machine.reconnect()
        }
        #expect(delays == [1, 2, 4, 8, 10, 10].map { .seconds($0) })
        _ = machine.received(status: 200, location: nil, contentType: "text/event-stream")
        #expect(machine.connectionLost(reason: "x", using: &random) == .wait(.seconds(1), reason: "x"))

        let policy = ReconnectPolicy(jitter: 0.5)
        var low = FixedRandom(value: 0)
        var high = FixedRandom(value: .max)
        #expect(policy.delay(reconnectionTime: .seconds(2), attempt: 1, using: &low) == .seconds(2))
        let jittered = policy.delay(reconnectionTime: .seconds(2), attempt: 1, using: &high) ?? .zero
        #expect(jittered >= .seconds(1) && jittered < .milliseconds(1001))
    }

    @Test("the policy gives up after max attempts")
    func maxAttempts() {
        var random = FixedRandom(value: 0)
        var machine = EventSourceStateMachine(url: url, policy: ReconnectPolicy(maxAttempts: 2))
        _ = machine.start()
        _ = machine.received(status: 200, location: nil, contentType: "text/event-stream")
        #expect(machine.connectionLost(reason: "a", using: &random) == .wait(.seconds(3), reason: "a"))
        _ = machine.reconnect()
        #expect(machine.connectionLost(reason: "refused", using: &random) == .wait(.seconds(3), reason: "refused"))
        _ = machine.reconnect()
        #expect(
            machine.connectionLost(reason: "refused", using: &random)
                == .closed(reason: "refused; gave up after 2 reconnection attempts", isFailure: true))
    }

    @Test("a first connection that cannot be made fails at once, unless asked to retry it")
    func initialFailure() {
        var random = FixedRandom(value: 0)
        var machine = EventSourceStateMachine(url: url)
        _ = machine.start()
        #expect(machine.connectionLost(reason: "connection refused", using: &random) == .closed(reason: "connection refused", isFailure: true))
        var patient = EventSourceStateMachine(url: url, retriesInitialConnection: true)
        _ = patient.start()
        #expect(patient.connectionLost(reason: "connection refused", using: &random) == .wait(.seconds(3), reason: "connection refused"))
    }

    @Test("without reconnection an ended stream closes; a user close is final")
    func noReconnect() {
        var random = FixedRandom(value: 0)
        var machine = EventSourceStateMachine(url: url, reconnects: false)
        _ = machine.start()
        _ = machine.received(status: 200, location: nil, contentType: "text/event-stream")
        #expect(machine.connectionLost(reason: "ended", using: &random) == .closed(reason: "ended; not reconnecting", isFailure: false))
        var closing = opened()
        #expect(closing.userClosed() == .closed(reason: "closed by the user", isFailure: false))
        #expect(closing.reconnect() == .closed(reason: "closed by the user", isFailure: false))
    }

    @Test(
        "URLs parse and resolve Location references",
        arguments: [
            ("http://h:1/a/b?q", "c", "http://h:1/a/c"),
            ("http://h:1/a/b?q", "/x", "http://h:1/x"),
            ("http://h:1/a/b", "?z=1", "http://h:1/a/b?z=1"),
            ("https://h/a", "//other:9/p", "https://other:9/p"),
            ("http://[::1]:8080/s", "t", "http://[::1]:8080/t"),
            ("http://h/a/b/c", "../d", "http://h/a/d"),
            ("http://h/a/b/c", "./d/./e/../f", "http://h/a/b/d/f"),
            ("http://h/a", "../../../x", "http://h/x"),
            ("http://h/a?q", "", "http://h/a?q"),
            ("http://h/a", "b#frag", "http://h/b"),
            ("http://h/a", "/with space/é", "http://h/with%20space/%C3%A9"),
            ("http://h/a", "  /trimmed  ", "http://h/trimmed"),
        ])
    func resolving(base: String, reference: String, expected: String) throws {
        #expect(try HTTPURL(parsing: base).resolving(reference).description == expected)
    }

    @Test(
        "bad URLs are named in the error",
        arguments: ["ftp://x/", "http://", "http://h:99999/", "http://h:x/", "http://[::1/", "http://h/a\r\nX: y", "http://h o/", "http://h\n/"])
    func badURLs(text: String) {
        #expect(throws: HTTPURLError.self) { try HTTPURL(parsing: text) }
    }
}
