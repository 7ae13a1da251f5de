import EventStream
import Foundation
import SSEClient
import SSEProxy
import SSEServer
import TestSupport
import Testing

@testable import Workbench

@Suite("Timeline: the model of what happened, and its drawing")
struct TimelineTests {
    /// A reconnection as the engine reports it: connect, two events, a drop, the wait, the resume
    /// with Last-Event-ID 2 and one event replayed from history, a failed expectation.
    static let records: [TimelineLog.Record] = {
        func at(_ milliseconds: Int64, _ item: TimelineLog.Item) -> TimelineLog.Record { .init(at: .milliseconds(milliseconds), item: item) }
        let event = { (data: String, id: String) in ServerSentEvent(type: "message", data: data, id: id) }
        return [
            at(0, .command("serve", origin: "t.drip:1")),
            at(2, .event(.server(.listening(url: "http://127.0.0.1:1")))),
            at(5, .command("connect reader feed", origin: "t.drip:2")),
            at(6, .event(.client(name: "reader", event: .connecting(url: "http://127.0.0.1:1/streams/feed", method: "GET", lastEventId: nil)))),
            at(7, .serverConnectionOwner(client: 1, name: "reader")),
            at(7, .event(.server(.connected(client: 1, stream: "feed", remote: "127.0.0.1", lastEventId: nil)))),
            at(8, .event(.client(name: "reader", event: .open(status: 200)))),
            at(20, .event(.server(.published(stream: "feed", id: "1", type: "message", clients: 1)))),
            at(21, .event(.client(name: "reader", event: .event(event("one", "1"))))),
            at(30, .event(.server(.published(stream: "feed", id: "2", type: "message", clients: 1)))),
            at(31, .event(.client(name: "reader", event: .event(event("two <b>", "2"))))),
            at(40, .command("drop feed mode=reset", origin: "t.drip:5")),
            at(41, .event(.server(.disconnected(client: 1, stream: "feed", reason: "dropped by the server (reset)")))),
            at(42, .event(.client(name: "reader", event: .reconnecting(after: .milliseconds(100), reason: "connection reset")))),
            at(50, .event(.server(.published(stream: "feed", id: "3", type: "message", clients: 0)))),
            at(143, .event(.client(name: "reader", event: .connecting(url: "http://127.0.0.1:1/streams/feed", method: "GET", lastEventId: "2")))),
            at(144, .event(.server(.connected(client: 2, stream: "feed", remote: "127.0.0.1", lastEventId: "2")))),
            at(145, .event(.server(.replayed(client: 2, stream: "feed", count: 1, lastEventId: "2", known: true)))),
            at(146, .event(.client(name: "reader", event: .event(event("three", "3"))))),
            at(150, .command("expect reader data=four", origin: "t.drip:7")),
            at(400, .event(.expectation(passed: false, summary: "expect reader data=four", detail: "saw three"))),
            at(410, .event(.server(.stopped))),
            at(420, .event(.client(name: "reader", event: .closed(reason: "the server is gone", isFailure: true)))),
        ]
    }()

    @Test("each happening becomes an entry on its lane, in order: server connections by stream, the client's segments, the session")
    func model() {
        let timeline = Timeline(records: Self.records)
        #expect(timeline.lanes.map(\.name) == ["session", "reader", "feed #1 (reader)", "feed #2"])
        #expect(timeline.duration == .milliseconds(420))
        let kinds = { (lane: String) in timeline.entries.filter { timeline.lanes[$0.lane].name == lane }.map(\.kind) }
        #expect(
            kinds("feed #1 (reader)") == [
                .opened(lastEventId: nil), .event(type: "message", id: "1", data: "", replayed: false),
                .event(type: "message", id: "2", data: "", replayed: false), .ended(reason: "dropped by the server (reset)", byFault: true),
            ])
        // Event 3 was published while no one was connected: no lane gets it; the resumed one replays it.
        #expect(kinds("feed #2") == [.opened(lastEventId: "2"), .replay(count: 1, lastEventId: "2")])
        #expect(
            kinds("reader") == [
                .opened(lastEventId: nil), .event(type: "message", id: "1", data: "one", replayed: false),
                .event(type: "message", id: "2", data: "two <b>", replayed: false), .ended(reason: "connection reset", byFault: false),
                .waiting(delay: .milliseconds(100)), .opened(lastEventId: "2"), .event(type: "message", id: "3", data: "three", replayed: false),
                .closed(reason: "the server is gone", isFailure: true),
            ])
        #expect(kinds("session").contains(.expectation(passed: false, summary: "expect reader data=four", detail: "saw three", origin: "t.drip:7")))
        #expect(timeline.entries.map(\.at) == timeline.entries.map(\.at).sorted())
    }

    @Test("a proxied exchange is a lane of its own: its request's Last-Event-ID, the events that reached the client, its end")
    func proxyLanes() {
        let records: [TimelineLog.Record] = [
            .init(
                at: .milliseconds(1),
                item: .event(
                    .proxy(
                        name: "p1", event: .request(connection: 3, method: "GET", target: "/e", headers: [.init(name: "Last-Event-ID", value: "9")])))
            ),
            .init(
                at: .milliseconds(2),
                item: .event(
                    .proxy(name: "p1", event: .observed(connection: 3, .event(ServerSentEvent(type: "message", data: "x", id: "10"), .skipped))))),
            .init(
                at: .milliseconds(3),
                item: .event(
                    .proxy(name: "p1", event: .observed(connection: 3, .event(ServerSentEvent(type: "message", data: "y", id: "11"), .passed))))),
            .init(
                at: .milliseconds(4),
                item: .event(.proxy(name: "p1", event: .ended(connection: 3, reason: "dropped by the proxy (reset)", byUpstream: false)))),
            .init(at: .milliseconds(5), item: .event(.proxy(name: "p1", event: .problem(connection: 0, "out of file descriptors")))),
        ]
        let timeline = Timeline(records: records)
        #expect(timeline.lanes == [Timeline.Lane(side: .proxy, name: "p1#3", group: "p1")])
        #expect(
            timeline.entries.map(\.kind) == [
                .opened(lastEventId: "9"), .event(type: "message", id: "11", data: "y", replayed: false),
                .ended(reason: "dropped by the proxy (reset)", byFault: true),
            ])
    }

    @Test("the log keeps at most maxEntries and counts the rest; an event's data is cut (characters, not bytes), raw bytes are not kept")
    func logBound() {
        let big = TimelineLog()
        big.add(.event(.client(name: "c", event: .event(ServerSentEvent(data: String(repeating: "x", count: 10_000))))))
        big.add(.event(.client(name: "c", event: .raw(Array(repeating: 0x41, count: 10_000)))))
        big.add(.event(.client(name: "c", event: .event(ServerSentEvent(data: String(repeating: "é", count: 200))))))
        #expect(
            big.timeline.entries.map(\.kind) == [
                .event(type: "message", id: nil, data: String(repeating: "x", count: 256) + "…", replayed: false),
                .event(type: "message", id: nil, data: String(repeating: "é", count: 200), replayed: false),
            ])
        let log = TimelineLog(maxEntries: 10)
        for _ in 0..<15 { log.add(.command("sleep 1ms", origin: nil)) }
        #expect(log.timeline.entries.count == 10)
        #expect(log.timeline.dropped == 5)
    }

    @Test("the drawing of a known timeline is the committed snapshot (DRIP_UPDATE_SNAPSHOTS=1 rewrites it)")
    func drawingSnapshot() throws {
        let svg = TimelineDrawing(Timeline(records: Self.records)).svg
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots/reconnect-timeline.svg")
        if ProcessInfo.processInfo.environment["DRIP_UPDATE_SNAPSHOTS"] == "1" {
            try svg.write(to: path, atomically: true, encoding: .utf8)
        }
        let snapshot = try String(contentsOf: path, encoding: .utf8)
        #expect(svg == snapshot, "the drawing changed; look at it, then DRIP_UPDATE_SNAPSHOTS=1 swift test --filter TimelineTests")
        #expect(svg.contains(#"class="drop""#) && svg.contains("wait 100 ms") && svg.contains("Last-Event-ID: 2"))
    }

    @Test("what a server or client said is text in the report, never markup: <, >, & and quotes are escaped")
    func reportEscapes() {
        let page = ReportPage(
            title: "<script>alert(1)</script>",
            sections: [
                .init(
                    title: "a\"b", verdicts: [.init(origin: "x:1", summary: "<img src=x onerror=alert(1)>", passed: false, detail: "&")],
                    timeline: Timeline(records: Self.records))
            ]
        ).html
        #expect(!page.contains("<script>") && !page.contains("<img") && !page.contains("<b>"))
        #expect(page.contains("&lt;script&gt;") && page.contains("two &lt;b&gt;") && page.contains("a&quot;b"))
    }

    @Test("the REPL's timeline writes the session so far: a report for .html, JSON lines otherwise; a bad path is an error naming it")
    func replTimeline() async throws {
        let (engine, transcript) = recordingEngine()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drip-timeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for line in [
            "serve", "stream feed heartbeat=0", "connect reader feed", "expect reader opened", "emit feed id=1 data=hello",
            "expect reader data=hello",
        ] {
            await engine.execute(line)
        }
        let report = directory.appendingPathComponent("lesson.html").path
        let lines = directory.appendingPathComponent("lesson.jsonl").path
        await engine.execute("timeline \(report)")
        await engine.execute("timeline \(lines)")
        await engine.execute("timeline /nonexistent-directory/x.html")
        await engine.shutdown()
        let page = try String(contentsOfFile: report, encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<svg") && page.contains(#"data-lane="reader""#))
        #expect(page.contains("expect reader data=hello"))
        let entries = try String(contentsOfFile: lines, encoding: .utf8).split(separator: "\n")
        #expect(entries.contains { $0.contains(#""kind":"event""#) && $0.contains(#""data":"hello""#) && $0.contains(#""lane":"reader""#) })
        #expect(transcript.lines.contains { $0.contains("timeline written to \(report)") })
        #expect(transcript.lines.contains { $0.contains("timeline: cannot write /nonexistent-directory/x.html") })
    }

    @Test("a follower gets each new entry as a JSON line, in order, with its lane; nil stops it")
    func follower() {
        let log = TimelineLog(keepsEntries: false)
        let lines = Collector<String>()
        log.add(Self.records[0].item)
        log.follow { lines.record($0) }
        for record in Self.records.dropFirst() { log.add(record.item) }
        log.follow(nil)
        log.add(.command("stop", origin: nil))
        let kinds = lines.all.map { line in line.split(separator: ",").first { $0.hasPrefix(#""kind""#) } ?? "" }
        #expect(lines.all.count == Timeline(records: Array(Self.records.dropFirst())).entries.count)
        #expect(kinds.first == #""kind":"listening""#)
        #expect(lines.all.contains { $0.contains(#""lane":"reader""#) && $0.contains(#""lastEventId":"2""#) })
        #expect(log.timeline.entries.isEmpty && !log.timeline.lanes.isEmpty)
    }

    @Test("tick steps give about ten ticks; durations read as ms under a second and s above")
    func axis() {
        #expect(TimelineDrawing.tickStep(for: .milliseconds(420)) == .milliseconds(50))
        #expect(TimelineDrawing.tickStep(for: .seconds(3)) == .milliseconds(500))
        #expect(TimelineDrawing.tickStep(for: .zero) == .milliseconds(1))
        #expect(TimelineDrawing.label(.milliseconds(100)) == "100 ms")
        #expect(TimelineDrawing.label(.milliseconds(1250)) == "1.25 s")
        #expect(TimelineDrawing.label(.seconds(2)) == "2 s")
    }
}
