import EventStream
import SSEClient

/// The server checks that open connections of their own: resume, abrupt-leave and http1.0.
extension ServerCheck {
    /// Opens a subscription and waits for its head; nil (with the reason) when none came with 200.
    private func subscribe(lastEventId: String? = nil, http10: Bool = false) async -> (ProbeConnection, ProbeTranscript)? {
        guard let request = try? subscription(lastEventId: lastEventId, origin: nil, http10: http10),
            let connection = try? await open(request)
        else { return nil }
        let transcript = await connection.wait(for: options.timing.head) { $0.head != nil }
        return (connection, transcript)
    }

    private static func answer(_ transcript: ProbeTranscript?) -> String {
        transcript.flatMap(\.statusLine) ?? transcript?.ending ?? "no answer"
    }

    func resumeCheck() async -> CheckResult {
        let advice = "keep recent events and, for a request with Last-Event-ID, send the ones after it, each once, before new ones"
        guard options.publishURL != nil else { return await unpublishedResumeCheck(advice: advice) }
        let mark = "\(marker) resume "
        guard let (first, opened) = await subscribe(), opened.head?.status == 200 else {
            return CheckResult("resume", .fail, "a second subscription was not answered 200", advice: advice)
        }
        for number in 1...2 { _ = await publish(mark + "\(number)") }
        let before = await first.wait(for: options.timing.arrival) { $0.events(marked: mark).count >= 2 }
        await first.close()
        let seenBefore = before.events(marked: mark).map(\.event)
        guard seenBefore.count == 2, let lastId = seenBefore.last?.id, !lastId.isEmpty else {
            return CheckResult(
                "resume", seenBefore.count == 2 ? .warn : .fail,
                seenBefore.count == 2 ? "events carry no id: a client has nothing to resume from" : "2 events published, \(seenBefore.count) arrived",
                advice: advice)
        }
        for number in 3...4 { _ = await publish(mark + "\(number)") }
        guard let (second, _) = await subscribe(lastEventId: lastId) else {
            return CheckResult("resume", .fail, "coming back with Last-Event-ID: \(lastId) was not answered", advice: advice)
        }
        let after = await second.wait(for: options.timing.arrival) { $0.events(marked: mark).contains { $0.event.data == mark + "4" } }
        await second.close()
        let numbers = after.events(marked: mark).map { "r" + $0.event.data.dropFirst(mark.count) }
        let evidence =
            "read published events r1, r2 (ids \(seenBefore.compactMap(\.id).joined(separator: ", "))), left; r3, r4 were published; "
            + "came back with Last-Event-ID: \(lastId) → " + (numbers.isEmpty ? "neither arrived" : "got \(numbers.joined(separator: ", "))")
        return CheckResult.judged("resume", numbers == ["r3", "r4"], evidence, advice: advice)
    }

    private func unpublishedResumeCheck(advice: String) async -> CheckResult {
        guard let (first, _) = await subscribe() else {
            return CheckResult("resume", .fail, "a second subscription was not answered", advice: advice)
        }
        let before = await first.wait(for: options.timing.unpublished) { $0.events.count >= 2 }
        await first.close()
        guard let lastId = before.events.last?.event.id, !lastId.isEmpty else {
            return CheckResult(
                "resume", .warn, before.events.isEmpty ? "not judged: no events arrived" : "events carry no id: a client has nothing to resume from",
                advice: advice)
        }
        let seenIds = Set(before.events.compactMap(\.event.id))
        guard let (second, _) = await subscribe(lastEventId: lastId) else {
            return CheckResult("resume", .fail, "coming back with Last-Event-ID: \(lastId) was not answered", advice: advice)
        }
        let after = await second.wait(for: options.timing.unpublished) { !$0.events.isEmpty }
        await second.close()
        guard let next = after.events.first?.event else {
            return CheckResult(
                "resume", .warn, "came back with Last-Event-ID: \(lastId); no event within \(options.timing.unpublished.evidenceText)",
                advice: "give --publish URL to judge resuming")
        }
        if let id = next.id, seenIds.contains(id) {
            return CheckResult("resume", .fail, "came back with Last-Event-ID: \(lastId) and got event \(id) again", advice: advice)
        }
        return CheckResult(
            "resume", .warn, "came back with Last-Event-ID: \(lastId), next event \(next.id ?? "") is new (no --publish: gaps cannot be judged)",
            advice: "give --publish URL to judge gaps")
    }

    func abruptLeaveCheck() async -> CheckResult {
        let advice = "a client that vanishes (a TCP reset) must cost the server nothing but its own connection"
        guard let (leaving, opened) = await subscribe(), opened.head?.status == 200 else {
            return CheckResult("abrupt-leave", .fail, "a subscription was not answered 200", advice: advice)
        }
        await leaving.reset()
        try? await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        guard let (next, answered) = await subscribe(), answered.head?.status == 200 else {
            return CheckResult(
                "abrupt-leave", .fail, "after a client left with a TCP reset, a new subscription got \(Self.answer(nil))", advice: advice)
        }
        defer { Task { await next.close() } }
        let evidence = "after a client left with a TCP reset, a new subscription was answered 200 in \((ContinuousClock.now - started).evidenceText)"
        guard options.publishURL != nil else { return CheckResult("abrupt-leave", .pass, evidence) }
        let mark = "\(marker) after-reset"
        _ = await publish(mark)
        let seen = await next.wait(for: options.timing.arrival) { !$0.events(marked: mark).isEmpty }
        return CheckResult.judged(
            "abrupt-leave", !seen.events(marked: mark).isEmpty,
            evidence
                + (seen.events(marked: mark).isEmpty ? ", but an event published then never reached it" : " and received an event published then"),
            advice: advice)
    }

    func http10Check() async -> CheckResult {
        let advice = "nginx speaks HTTP/1.0 to its upstreams unless proxy_http_version 1.1 is set; answer 1.0 without chunked encoding"
        guard let (connection, opened) = await subscribe(http10: true) else {
            return CheckResult("http1.0", .fail, "an HTTP/1.0 request was not answered", advice: advice)
        }
        defer { Task { await connection.close() } }
        let answer = "GET \(options.url.target) HTTP/1.0 → \(Self.answer(opened))"
        guard let head = opened.head else { return CheckResult("http1.0", .fail, answer, advice: advice) }
        guard head.status == 200 else {
            return CheckResult("http1.0", [400, 426, 505].contains(head.status) ? .warn : .fail, answer + ": refused", advice: advice)
        }
        if let encoding = head.value(of: "Transfer-Encoding"), encoding.lowercased().contains("chunked") {
            return CheckResult(
                "http1.0", .fail, answer + " with Transfer-Encoding: \(encoding), which an HTTP/1.0 client cannot read", advice: advice)
        }
        guard options.publishURL != nil else {
            return CheckResult("http1.0", .pass, answer + ", not chunked (events not checked without --publish)")
        }
        let mark = "\(marker) http1.0"
        _ = await publish(mark)
        let seen = await connection.wait(for: options.timing.arrival) { !$0.events(marked: mark).isEmpty }
        return CheckResult.judged(
            "http1.0", !seen.events(marked: mark).isEmpty,
            answer + (seen.events(marked: mark).isEmpty ? ", but an event published did not arrive" : ", not chunked; an event published arrived"),
            advice: advice)
    }
}
