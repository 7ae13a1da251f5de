import SSECheck
import Testing

private func feed(_ transcript: inout ProbeTranscript, _ text: String, at instant: ContinuousClock.Instant) {
    Array(text.utf8).withUnsafeBytes { transcript.received($0, at: instant) }
}

@Suite("drip check server: what a probe connection keeps")
struct ProbeTranscriptTests {
    @Test("a chunked answer split anywhere gives its head, status line, events, retry and comments, each with when it came")
    func chunkedStream() {
        let start = ContinuousClock.now
        var transcript = ProbeTranscript(sentAt: start)
        let wire =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "1e\r\nretry: 500\n: hi\nid: 7\ndata: a\n\r\n" + "9\r\ndata: b\n\n\r\n"
        let cut = wire.index(wire.startIndex, offsetBy: 90)
        feed(&transcript, String(wire[..<cut]), at: start + .milliseconds(1))
        feed(&transcript, String(wire[cut...]), at: start + .milliseconds(5))
        #expect(transcript.statusLine == "HTTP/1.1 200 OK")
        #expect(transcript.head?.value(of: "content-type") == "text/event-stream")
        #expect(transcript.retries == [500])
        #expect(transcript.comments == 1)
        #expect(transcript.events.map(\.event.data) == ["a\nb"])
        #expect(transcript.events.first?.event.id == "7")
        #expect(transcript.events.first?.at == start + .milliseconds(5))
        #expect(transcript.firstBodyAt == start + .milliseconds(1))
    }

    @Test("the longest silence counts from the watch's start and up to now")
    func gaps() {
        let start = ContinuousClock.now
        var transcript = ProbeTranscript(sentAt: start)
        feed(&transcript, "HTTP/1.1 200 OK\r\n\r\n:\n", at: start)
        transcript.watchGaps(from: start + .seconds(1))
        feed(&transcript, ":\n", at: start + .seconds(3))
        feed(&transcript, ":\n", at: start + .seconds(4))
        #expect(transcript.longestGap(until: start + .seconds(5)) == .seconds(2))
        #expect(transcript.longestGap(until: start + .seconds(9)) == .seconds(5))
    }

    @Test("memory is bounded: events and body bytes past the limits are counted, not kept; a broken head is a failure")
    func bounds() {
        let start = ContinuousClock.now
        var transcript = ProbeTranscript(sentAt: start)
        feed(&transcript, "HTTP/1.1 200 OK\r\n\r\n", at: start)
        let block = String(repeating: "data: x\n\n", count: 1000)
        for _ in 0..<(ProbeTranscript.maxEvents / 1000 + 2) { feed(&transcript, block, at: start) }
        #expect(transcript.events.count == ProbeTranscript.maxEvents)
        #expect(transcript.eventsNotKept == 2000)
        feed(&transcript, String(repeating: ":", count: ProbeTranscript.maxBodyKept), at: start)
        #expect(transcript.body.count == ProbeTranscript.maxBodyKept)
        var broken = ProbeTranscript(sentAt: start)
        feed(&broken, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", at: start)
        #expect(broken.failure?.contains("Content-Length") == true)
    }
}
