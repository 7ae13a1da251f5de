/// `drip check client`'s judge, without I/O: it plays one scenario per connection and grades what
/// the client does next from its requests alone — when it came back, with what `Last-Event-ID`, to
/// which URL — the way a spec-following EventSource must.
///
/// The scenarios, in order (each request gets the next; a preflight `OPTIONS` is answered apart):
/// 1. events with ids 1 and 2 and `retry: 1000`, then a clean end (graded: `accept`);
/// 2. an event without id, then a clean end (`reconnect`, `retry`, `last-event-id` = 2);
/// 3. an event with an empty `id:`, then a clean end (`id-persists`: still 2);
/// 4. an event with id 10, then half of one with id 11 and a TCP reset (`id-reset`: no header);
/// 5. a 307 to the same URL with `drip-check=redirected` in its query (`reset`, `partial`: 10);
/// 6. the terminal answer, `End` (`redirect`: the redirected URL), watched for `terminalWatch`
///    (`end`: a 204 must stop it; a 500 or a wrong type must not start a hot loop).
///
/// Invariant: every check in `names` is graded exactly once by the time `isFinished`; a client
/// that does not come back within `comeBackLimit` fails the checks it left unjudged, saying so.
public struct ClientCheckMachine: Sendable {
    public static let names = ["accept", "reconnect", "retry", "last-event-id", "id-persists", "id-reset", "reset", "partial", "redirect", "end"]

    /// The last scenario: what a client must take as "stop" or at least as "not now".
    public enum End: String, Sendable, CaseIterable {
        case noContent = "204"
        case serverError = "500"
        case wrongType = "wrong-type"
    }

    /// One request as the client sent it.
    public struct Request: Sendable {
        public var method: String
        public var target: String
        public var headers: [(name: String, value: String)]

        public init(method: String, target: String, headers: [(name: String, value: String)]) {
            self.method = method
            self.target = target
            self.headers = headers
        }

        public func value(of name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// What to send back, and how to end the connection after it.
    public struct Answer: Sendable, Equatable {
        public enum Ending: Sendable, Equatable {
            case close
            /// A TCP reset this long after the bytes were written (so the client reads them first).
            case reset(after: Duration)
        }
        public var bytes: [UInt8]
        public var ending: Ending
    }

    public static let retry = Duration.seconds(1)
    public static let redirectMarker = "drip-check=redirected"
    public let end: End
    /// How long a client may take to come back before the checks left are failed.
    public var comeBackLimit = Duration.seconds(8)
    /// How long the terminal answer is watched for requests.
    public var terminalWatch = Duration.seconds(3)

    public private(set) var results: [CheckResult] = []
    public private(set) var isFinished = false
    private var step = 0
    private var answerEndedAt: ContinuousClock.Instant?
    private var terminalRequests: [ContinuousClock.Instant] = []

    public init(end: End) {
        self.end = end
    }

    /// The moment `tick` has something to do (a wait to give up on, the terminal watch to end).
    public var deadline: ContinuousClock.Instant? {
        guard !isFinished, let answerEndedAt else { return nil }
        return answerEndedAt + (step > 5 ? terminalWatch : comeBackLimit)
    }

    /// A request arrived at `now`: grades what it shows and returns the answer to send.
    public mutating func received(_ request: Request, at now: ContinuousClock.Instant) -> Answer {
        if request.method == "OPTIONS" { return preflight(request) }
        let gap = answerEndedAt.map { now - $0 }
        let lastEventId = request.value(of: "Last-Event-ID")
        switch step {
        case 0:
            let accept = request.value(of: "Accept")
            grade(
                "accept", accept?.lowercased().contains("text/event-stream") == true,
                "\(request.method) \(request.target), Accept: \(accept ?? "(none)")",
                advice: "send Accept: text/event-stream, as EventSource does")
        case 1:
            grade("reconnect", true, "came back \(gap?.evidenceText ?? "") after a clean end", advice: "")
            gradeRetry(gap ?? .zero)
            grade(
                "last-event-id", lastEventId == "2", "after events with ids 1 and 2: \(Self.describe(lastEventId))",
                advice: "send the id of the last event received as Last-Event-ID when reconnecting")
        case 2:
            grade(
                "id-persists", lastEventId == "2", "after an event without id: (the last id was 2): \(Self.describe(lastEventId))",
                advice: "an event without an id: field keeps the last event id; it is not cleared")
        case 3:
            results.append(
                lastEventId == nil
                    ? CheckResult("id-reset", .pass, "after an empty id: field: no Last-Event-ID")
                    : CheckResult(
                        "id-reset", lastEventId == "" ? .warn : .fail, "after an empty id: field: \(Self.describe(lastEventId))",
                        advice: "an empty id: clears the last event id; then send no Last-Event-ID at all"))
        case 4:
            grade("reset", true, "came back \(gap?.evidenceText ?? "") after a TCP reset in the middle of an event", advice: "")
            grade(
                "partial", lastEventId == "10", "after event 10 and half of event 11, cut: \(Self.describe(lastEventId))",
                advice: "an event cut before its blank line is not dispatched, and its id: does not count")
        case 5:
            grade(
                "redirect", request.target.contains(Self.redirectMarker), "after a 307 to ?\(Self.redirectMarker): asked for \(request.target)",
                advice: "follow a 307 redirect to its Location, keeping the method")
        default:
            terminalRequests.append(now)
        }
        if step <= 5 { answerEndedAt = nil }  // the terminal watch runs from the first terminal answer
        step += 1
        return answer(for: step - 1, request: request)
    }

    /// The connection of the last answer ended (closed or reset by drip) at `now`: waits are timed from here.
    public mutating func answerEnded(at now: ContinuousClock.Instant) {
        if answerEndedAt == nil { answerEndedAt = now }
    }

    /// Gives up on a client that has not come back, or ends the terminal watch, when it is time.
    public mutating func tick(now: ContinuousClock.Instant) {
        guard let deadline, now >= deadline else { return }
        if step > 5 { return finishTerminal() }
        let after = ["", "a clean end", "a clean end", "a clean end", "a TCP reset", "a 307 redirect"][step]
        giveUp("the client did not come back within \(comeBackLimit.evidenceText) after \(after)")
    }

    /// Ends the run now (the whole run's time is up): every check not yet graded fails with `reason`.
    public mutating func giveUp(_ reason: String) {
        guard !isFinished else { return }
        if step > 5 { return finishTerminal() }
        for name in Self.names where !results.contains(where: { $0.name == name }) {
            let advice =
                step > 0 ? "reconnect after the stream ends or breaks, waiting the announced retry:" : "point the client at the URL drip printed"
            results.append(CheckResult(name, .fail, (step > 0 && name != "reconnect" ? "not judged: " : "") + reason, advice: advice))
        }
        isFinished = true
    }

    private mutating func finishTerminal() {
        let came = terminalRequests.count
        let evidence: String
        let verdict: CheckResult.Verdict
        switch end {
        case .noContent:
            evidence =
                came == 0
                ? "after a 204: no request for \(terminalWatch.evidenceText)"
                : "after a 204: \(came) more request\(came == 1 ? "" : "s") within \(terminalWatch.evidenceText)"
            verdict = came == 0 ? .pass : .fail
        case .serverError, .wrongType:
            let what = end == .serverError ? "a 500" : "a 200 with Content-Type: text/plain"
            let hot = came >= 3
            evidence =
                came == 0
                ? "after \(what): no request for \(terminalWatch.evidenceText)"
                : "after \(what): \(came) more request\(came == 1 ? "" : "s") within \(terminalWatch.evidenceText)"
            verdict = hot ? .fail : .pass
        }
        results.append(
            CheckResult("end", verdict, evidence, advice: "stop on a 204; after an error or a wrong type, fail or back off, never retry at once"))
        isFinished = true
    }

    private mutating func gradeRetry(_ gap: Duration) {
        let evidence = "came back \(gap.evidenceText) after the end (announced retry: \(Self.retry.evidenceText))"
        let advice = "wait the announced retry: before reconnecting"
        if gap * 2 < Self.retry {
            results.append(CheckResult("retry", .fail, evidence + ": too soon, a hot loop when the server is down", advice: advice))
        } else if gap * 4 < Self.retry * 3 || gap * 2 > Self.retry * 5 {
            results.append(CheckResult("retry", .warn, evidence, advice: advice))
        } else {
            results.append(CheckResult("retry", .pass, evidence))
        }
    }

    private mutating func grade(_ name: String, _ passed: Bool, _ evidence: String, advice: String) {
        results.append(CheckResult.judged(name, passed, evidence, advice: advice))
    }

    private static func describe(_ lastEventId: String?) -> String {
        lastEventId.map { "Last-Event-ID: \($0.debugDescription)" } ?? "no Last-Event-ID"
    }
}
