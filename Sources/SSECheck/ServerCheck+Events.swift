import EventStream
import SSEClient

/// The server checks that need events: ids, buffering and utf-8 on the main stream, then resume,
/// abrupt-leave and http1.0 each on connections of their own.
extension ServerCheck {
    static let unicodeSample = "é ✓ 🚀 日本"

    /// Publishes (or, without a publish URL, waits for) events on the main stream and records ids,
    /// buffering and utf-8 (and makes compression a FAIL when the compressor held an event back).
    /// Returns the main stream's transcript as it is afterwards.
    func eventChecks(_ main: ProbeConnection, record: (CheckResult) -> Void) async -> ProbeTranscript {
        guard options.publishURL != nil else { return await unpublishedEventChecks(main, record: record) }
        let compressed = HeadVerdicts.isCompressed((try? await main.transcript())?.head)
        let bufferingMark = "\(marker) buffering"
        let publishedAt = ContinuousClock.now
        if let problem = await publish(bufferingMark) {
            record(
                CheckResult(
                    "buffering", .fail, "cannot publish: \(problem)", advice: "give a --publish URL that takes a POST whose body is the event's data")
            )
        } else {
            let seen = await main.wait(for: options.timing.arrival) { transcript in
                compressed ? (transcript.lastBodyAt ?? publishedAt) > publishedAt : !transcript.events(marked: bufferingMark).isEmpty
            }
            let arrivedAt = compressed ? seen.lastBodyAt.flatMap { $0 > publishedAt ? $0 : nil } : seen.events(marked: bufferingMark).first?.at
            let result: CheckResult
            if let arrivedAt {
                let took = arrivedAt - publishedAt
                result = CheckResult.judged(
                    "buffering", took <= options.timing.delivery,
                    "an event published (POST \(options.publishURL?.target ?? "")) arrived \(took.evidenceText) later"
                        + (compressed ? " (as compressed bytes)" : ""),
                    advice: "something holds events back: flush after every event (and turn off proxy buffering: X-Accel-Buffering: no)")
            } else {
                result = CheckResult(
                    "buffering", .fail,
                    "an event published (POST \(options.publishURL?.target ?? "")) had not arrived \(options.timing.arrival.evidenceText) later",
                    advice: "something holds events back, or the publish URL feeds another stream")
            }
            record(result)
            if compressed, result.verdict == .fail {
                let encoding = seen.head?.value(of: "Content-Encoding") ?? ""
                record(
                    CheckResult(
                        "compression", .fail, "Content-Encoding: \(encoding), and it held a published event back",
                        advice: "leave text/event-stream uncompressed"))
            }
        }
        let unicodeMark = "\(marker) utf-8 "
        let problem = await publish(unicodeMark + Self.unicodeSample)
        let seen = await main.wait(for: options.timing.arrival) { !$0.events(marked: unicodeMark).isEmpty }
        let arrived = seen.events(marked: unicodeMark).first?.event.data.dropFirst(unicodeMark.count)
        record(
            utf8Verdict(
                seen,
                sample: problem.map { "cannot publish: \($0)" }
                    ?? arrived.map { $0 == Self.unicodeSample ? nil : "\(Self.unicodeSample) was published and \(String($0)) arrived" }
                    ?? "\(Self.unicodeSample) was published and had not arrived \(options.timing.arrival.evidenceText) later"))
        let ours = seen.events.filter { $0.event.data.hasPrefix(marker) }.map(\.event)
        record(idsVerdict(ours, judgedOn: "the \(ours.count) events published"))
        return seen
    }

    private func unpublishedEventChecks(_ main: ProbeConnection, record: (CheckResult) -> Void) async -> ProbeTranscript {
        let seen = await main.wait(for: options.timing.unpublished) { $0.events.count >= 2 }
        record(
            CheckResult(
                "buffering", .warn, "not judged without --publish: an event's delay needs the moment it was published",
                advice: "give --publish URL (a POST whose body is one event's data) to time it"))
        record(utf8Verdict(seen, sample: nil))
        record(idsVerdict(seen.events.map(\.event), judgedOn: "the \(seen.events.count) events the server sent by itself (no --publish)"))
        return seen
    }

    func idsVerdict(_ events: [ServerSentEvent], judgedOn source: String) -> CheckResult {
        guard !events.isEmpty else {
            return CheckResult("ids", .warn, "not judged: no events arrived", advice: "give --publish URL, or have the server send events")
        }
        let ids = events.map { $0.id ?? "" }
        let advice = "give every event an id: so that a reconnecting client sends Last-Event-ID and can be given what it missed"
        if ids.contains("") { return CheckResult("ids", .warn, "\(source): \(ids.filter(\.isEmpty).count) without an id", advice: advice) }
        if Set(ids).count < ids.count, ids.count > 1 {
            return CheckResult("ids", .warn, "\(source) carry ids, but repeated: \(ids.joined(separator: ", "))", advice: advice)
        }
        return CheckResult("ids", .pass, "\(source) carry ids: \(ids.suffix(3).joined(separator: ", "))")
    }

    /// utf-8: the Content-Type names no other charset, the body's bytes are UTF-8, and (with a
    /// publish URL) non-ASCII data comes back as it went; `sample` is the problem with that, if any.
    func utf8Verdict(_ transcript: ProbeTranscript, sample problem: String?) -> CheckResult {
        let contentType = transcript.head?.value(of: "Content-Type") ?? ""
        if let charset = contentType.lowercased().split(separator: ";").dropFirst().first(where: { $0.contains("charset=") }),
            !charset.contains("utf-8")
        {
            return CheckResult(
                "utf-8", .fail, "Content-Type: \(contentType)", advice: "an event stream is always UTF-8; EventSource ignores another charset")
        }
        let body = transcript.body
        let upToLastLine = body.lastIndex(of: UInt8(ascii: "\n")).map { body[...$0] } ?? body[...]
        if String(validating: upToLastLine, as: UTF8.self) == nil {
            return CheckResult(
                "utf-8", .fail, "the stream holds bytes that are not UTF-8 (EventSource shows them as U+FFFD)",
                advice: "encode every event as UTF-8")
        }
        if let problem { return CheckResult("utf-8", .fail, problem, advice: "send the event's data as the UTF-8 it was given") }
        return CheckResult(
            "utf-8", .pass,
            options.publishURL == nil
                ? "\(upToLastLine.count) bytes of the stream are UTF-8 (judged on what the server sent by itself)"
                : "\(Self.unicodeSample) was published and arrived intact")
    }
}
