import EventStream
import SSEClient

/// The server checks judged from one response head and from timings alone, without I/O: status,
/// content-type, cache, compression, length and cors from the head, first-byte and heartbeat from
/// when bytes came.
struct HeadVerdicts {
    let head: HTTPResponseReader.Head
    let statusLine: String
    let target: String
    let origin: String?

    var all: [CheckResult] { [status, contentType, cache, compression, length, cors] }

    var status: CheckResult {
        let evidence = "GET \(target) (Accept: text/event-stream) → \(statusLine)"
        switch head.status {
        case 200: return CheckResult("status", .pass, evidence)
        case 300..<400:
            return CheckResult(
                "status", .fail, evidence + ", Location: \(head.value(of: "Location") ?? "none")",
                advice: "EventSource follows the redirect, but every reconnection pays for it: point clients at the final URL")
        default:
            return CheckResult("status", .fail, evidence, advice: "answer an EventSource GET with 200 and the stream; any other status ends it")
        }
    }

    var contentType: CheckResult {
        let value = head.value(of: "Content-Type")
        let mediaType = value.map { $0.split(separator: ";").first.map { HTTPSyntax.trimmingWhitespace($0).lowercased() } ?? "" }
        return CheckResult.judged(
            "content-type", mediaType == "text/event-stream", "Content-Type: \(value ?? "(none)")",
            advice: "send Content-Type: text/event-stream; EventSource refuses any other type and does not reconnect")
    }

    var cache: CheckResult {
        let value = head.value(of: "Cache-Control")
        let words = (value ?? "").lowercased()
        return CheckResult.judged(
            "cache", words.contains("no-cache") || words.contains("no-store"), "Cache-Control: \(value ?? "(none)")", otherwise: .warn,
            advice: "send Cache-Control: no-cache (or no-store) so that no cache or proxy keeps or replays the stream")
    }

    /// Whether the body comes with a `Content-Encoding` other than identity.
    static func isCompressed(_ head: HTTPResponseReader.Head?) -> Bool {
        let value = head?.value(of: "Content-Encoding") ?? ""
        return !["", "identity"].contains(HTTPSyntax.trimmingWhitespace(value).lowercased())
    }

    var compression: CheckResult {
        let value = head.value(of: "Content-Encoding")
        let compressed = Self.isCompressed(head)
        return CheckResult(
            "compression", compressed ? .warn : .pass,
            compressed
                ? "Content-Encoding: \(value ?? "") (asked with Accept-Encoding: gzip, deflate, br)"
                : "not compressed (asked with Accept-Encoding: gzip, deflate, br)",
            advice:
                "a compressor holds events until its buffer fills: leave text/event-stream uncompressed, or flush the compressor after every event")
    }

    var length: CheckResult {
        let value = head.value(of: "Content-Length")
        return CheckResult.judged(
            "length", value == nil,
            value.map { "Content-Length: \($0): the stream ends after \($0) bytes" }
                ?? "no Content-Length (\(head.value(of: "Transfer-Encoding").map { "Transfer-Encoding: \($0)" } ?? "the body runs until the connection closes"))",
            advice: "do not send Content-Length on an event stream: let it be chunked or run until the connection closes")
    }

    var cors: CheckResult {
        guard let origin else { return CheckResult("cors", .skip, "no --origin given: not asked as a page of another origin would") }
        let allowed = head.value(of: "Access-Control-Allow-Origin")
        return CheckResult.judged(
            "cors", allowed == "*" || allowed == origin, "Origin: \(origin) → Access-Control-Allow-Origin: \(allowed ?? "(none)")",
            advice: "answer Origin \(origin) with Access-Control-Allow-Origin: \(origin) (or *), or a page there cannot open the stream")
    }

    static func firstByte(headAfter: Duration, firstBodyAfter: Duration?, timing: ServerCheck.Timing) -> CheckResult {
        let heads = "headers after \(headAfter.evidenceText)"
        guard headAfter <= timing.promptHead else {
            return CheckResult(
                "first-byte", .warn, heads, advice: "send the response head at once; the browser's open event waits for it")
        }
        guard let firstBodyAfter else {
            return CheckResult(
                "first-byte", .warn, heads + ", then no body bytes for \(timing.promptHead.evidenceText)",
                advice: "write something at once (a comment line `:ok` or retry:): some proxies hold the headers until body bytes flow")
        }
        return CheckResult("first-byte", .pass, heads + ", first body bytes \(firstBodyAfter.evidenceText) later")
    }

    static func heartbeat(_ watched: ProbeTranscript, budget: Duration, since started: ContinuousClock.Instant) -> CheckResult {
        let now = ContinuousClock.now
        let gap = watched.longestGap(until: now)
        let advice = "write a comment line (`:` and a line feed) at least every \((budget / 2).evidenceText), or idle connections are cut"
        if let ending = watched.ending, let endedAt = watched.endedAt {
            return CheckResult(
                "heartbeat", .fail, "\(ending) after \((endedAt - started).evidenceText) of the stream", advice: "keep the stream open; " + advice)
        }
        let evidence = "longest silence \(gap.evidenceText) (idle budget \(budget.evidenceText))"
        if gap >= budget { return CheckResult("heartbeat", .fail, evidence, advice: advice) }
        if gap * 5 > budget * 4 { return CheckResult("heartbeat", .warn, evidence + ": close to the budget", advice: advice) }
        return CheckResult("heartbeat", .pass, evidence)
    }
}
