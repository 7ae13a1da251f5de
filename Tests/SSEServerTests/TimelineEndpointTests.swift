import EventStream
import SSEServer
import TestSupport
import Testing

@Suite("GET /timeline: the workbench's timeline as an event stream of the server's own", .serialized)
struct TimelineEndpointTests {
    @Test("entries are numbered events; ?lastEventId=0 gets the kept ones first; the stream is not listed, not logged, not a user's")
    func timelineStream() async throws {
        try await withServer { server, port, log in
            server.publishTimeline(#"{"kind":"command","line":"serve"}"#)
            server.publishTimeline(#"{"kind":"listening"}"#)
            let late = try StreamSubscriber(port: port, path: "/timeline?lastEventId=0")
            #expect(try late.waitForHead().status == 200)
            let kept = late.waitForEvents(2)
            #expect(kept.map(\.type) == ["entry", "entry"])
            #expect(kept.map(\.id) == ["1", "2"])
            #expect(kept.first?.data == #"{"kind":"command","line":"serve"}"#)
            server.publishTimeline(#"{"kind":"event"}"#)
            #expect(late.waitForEvents(3).last?.data == #"{"kind":"event"}"#)

            #expect(try await server.snapshot().streams.isEmpty, "the timeline stream is listed")
            #expect(log.all.allSatisfy { $0.streamName == nil }, "what happens on the timeline is logged: \(log.all)")
            let (refused, _) = try httpRequest(port: port, "GET", "/streams/(timeline)")
            #expect(refused.status == 400)
        }
    }
}
