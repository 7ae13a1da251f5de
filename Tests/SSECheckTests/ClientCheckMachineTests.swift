import SSECheck
import Testing

/// A client as a list of what it does after each answer: come back after a delay with some
/// Last-Event-ID to some target, or not at all. Driven against the machine with made-up times.
private struct ScriptedClient {
    struct Visit {
        var after: Duration
        var lastEventId: String?
        var followsRedirect = true
        var accept = "text/event-stream"
    }
    var visits: [Visit]
    /// After the terminal answer: how many times it comes back, and how soon each time.
    var terminalVisits: [Duration] = []
}

private func run(_ client: ScriptedClient, end: ClientCheckMachine.End = .noContent) -> [String: CheckResult] {
    var machine = ClientCheckMachine(end: end)
    var now = ContinuousClock.now
    var target = "/events"
    for (index, visit) in client.visits.enumerated() {
        now += visit.after
        machine.tick(now: now)
        if machine.isFinished { break }
        var headers = [(name: "Accept", value: visit.accept)]
        if let id = visit.lastEventId { headers.append(("Last-Event-ID", id)) }
        let answer = machine.received(.init(method: "GET", target: target, headers: headers), at: now)
        if index == 4, visit.followsRedirect,
            let location = String(decoding: answer.bytes, as: UTF8.self).split(separator: "\r\n").first(where: { $0.hasPrefix("Location: ") })
        {
            target = String(location.dropFirst("Location: ".count))
        }
        now += .milliseconds(1)
        machine.answerEnded(at: now)
    }
    for delay in client.terminalVisits where !machine.isFinished {
        now += delay
        machine.tick(now: now)
        if !machine.isFinished { _ = machine.received(.init(method: "GET", target: target, headers: []), at: now) }
    }
    for _ in 0..<3 where !machine.isFinished {
        now += .seconds(5)
        machine.tick(now: now)
    }
    #expect(machine.isFinished)
    #expect(machine.results.map(\.name).sorted() == ClientCheckMachine.names.sorted(), "every check graded once")
    return Dictionary(uniqueKeysWithValues: machine.results.map { ($0.name, $0) })
}

private let goodClient = ScriptedClient(visits: [
    .init(after: .zero, lastEventId: nil), .init(after: .seconds(1), lastEventId: "2"), .init(after: .seconds(1), lastEventId: "2"),
    .init(after: .seconds(1), lastEventId: nil), .init(after: .seconds(1), lastEventId: "10"), .init(after: .zero, lastEventId: "10"),
])

@Suite("drip check client: the judge of a client's requests")
struct ClientCheckMachineTests {
    @Test("a client that follows the spec passes every check")
    func specClientPasses() {
        let results = run(goodClient)
        for name in ClientCheckMachine.names { #expect(results[name]?.verdict == .pass, "\(name): \(results[name]?.evidence ?? "")") }
    }

    @Test("a client that reconnects at once, never sends Last-Event-ID and ignores a 204 fails exactly those checks")
    func badClientFails() {
        var bad = goodClient
        for index in bad.visits.indices {
            bad.visits[index].lastEventId = nil
            if index > 0 { bad.visits[index].after = .milliseconds(5) }
        }
        bad.terminalVisits = [.milliseconds(5), .milliseconds(5), .milliseconds(5)]
        let results = run(bad)
        for name in ["retry", "last-event-id", "id-persists", "partial", "end"] {
            #expect(results[name]?.verdict == .fail, "\(name): \(results[name]?.evidence ?? "")")
            #expect(results[name]?.advice != nil)
        }
        for name in ["accept", "reconnect", "id-reset", "reset", "redirect"] {
            #expect(results[name]?.verdict == .pass, "\(name): \(results[name]?.evidence ?? "")")
        }
    }

    @Test("a client that never comes back fails reconnection and every check after it, saying why")
    func clientThatDoesNotReconnect() {
        let results = run(ScriptedClient(visits: [.init(after: .zero, lastEventId: nil)]))
        #expect(results["accept"]?.verdict == .pass)
        #expect(results["reconnect"]?.verdict == .fail)
        #expect(results["reconnect"]?.evidence.contains("did not come back within 8.0 s after a clean end") == true)
        #expect(results["last-event-id"]?.evidence.hasPrefix("not judged: the client did not come back") == true)
        #expect(results["end"]?.verdict == .fail)
    }

    @Test("retry: sooner than half the announced time is a FAIL, far later a WARN")
    func retryWindow() {
        var early = goodClient
        early.visits[1].after = .milliseconds(400)
        #expect(run(early)["retry"]?.verdict == .fail)
        var late = goodClient
        late.visits[1].after = .seconds(3)
        #expect(run(late)["retry"]?.verdict == .warn)
    }

    @Test("a client that does not follow the 307 fails redirect; an empty Last-Event-ID after id: is a WARN; no Accept fails accept")
    func redirectAndHeaders() {
        var client = goodClient
        client.visits[4].followsRedirect = false
        client.visits[3].lastEventId = ""
        client.visits[0].accept = "*/*"
        let results = run(client)
        #expect(results["redirect"]?.verdict == .fail)
        #expect(results["id-reset"]?.verdict == .warn)
        #expect(results["accept"]?.verdict == .fail)
    }

    @Test("after a 500, coming back slowly passes and a hot loop fails; the watch does not grow with the loop")
    func terminalError() {
        var slow = goodClient
        slow.terminalVisits = [.seconds(1)]
        #expect(run(slow, end: .serverError)["end"]?.verdict == .pass)
        var hot = goodClient
        hot.terminalVisits = Array(repeating: .milliseconds(10), count: 50)
        let results = run(hot, end: .serverError)
        #expect(results["end"]?.verdict == .fail)
        #expect(results["end"]?.evidence.contains("within 3.0 s") == true)
    }

    @Test("a preflight is answered apart and is not a step; the redirect target only echoes visible ASCII")
    func preflightAndRedirectTarget() {
        var machine = ClientCheckMachine(end: .noContent)
        let preflight = machine.received(.init(method: "OPTIONS", target: "/x", headers: [("Origin", "http://a.test")]), at: .now)
        #expect(String(decoding: preflight.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 204"))
        #expect(machine.results.isEmpty)
        for step in 0..<4 {
            _ = machine.received(.init(method: "GET", target: "/x", headers: []), at: .now)
            machine.answerEnded(at: .now)
            #expect(machine.results.count >= step)
        }
        let redirect = machine.received(.init(method: "GET", target: "/é\r\nX: y", headers: []), at: .now)
        let text = String(decoding: redirect.bytes, as: UTF8.self)
        #expect(text.contains("Location: /?drip-check=redirected\r\n"))
        #expect(!text.contains("X: y"))
    }
}
