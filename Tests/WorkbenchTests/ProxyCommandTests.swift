import EventStream
import TestSupport
import Testing
import Workbench

@Suite("Proxies in the workbench: proxy, faults by name, expect, the listing (real sockets)", .serialized)
struct ProxyCommandTests {
    @Test("the listing (and so the viewer page) shows a proxy and its open exchange, with the events that passed")
    func listingShowsProxies() async throws {
        let (engine, transcript, port) = try await servingEngine([
            "serve", "stream news heartbeat=0", "proxy p1", "connect c1 news via=p1", "expect c1 opened", "emit news data=one",
            "expect c1 data=one",
        ])
        #expect(transcript.failures.isEmpty, "\(transcript.failures)")
        let (head, body) = try httpRequest(port: port, "GET", "/streams")
        #expect(head.status == 200)
        let listing = try JSONValue(parsing: body)
        guard case .array(let proxies)? = listing["proxies"], let proxy = proxies.first else {
            throw TestFailure("no proxies in \(body)")
        }
        #expect(proxy["name"]?.stringValue == "p1")
        #expect(proxy["upstream"]?.stringValue == "http://127.0.0.1:\(port)/")
        guard case .array(let open)? = proxy["open"], let exchange = open.first else { throw TestFailure("no open exchange in \(body)") }
        #expect(exchange["target"]?.stringValue == "/streams/news")
        #expect(exchange["status"] == .number("200") && exchange["events"] == .number("1"))
        await engine.execute("close p1")
        let (_, after) = try httpRequest(port: port, "GET", "/streams")
        #expect(try JSONValue(parsing: after)["proxies"] == .array([]))
        await engine.shutdown()
    }

    @Test("faults name a proxy or a stream, each refusing the other's option; names are checked")
    func faultTargets() async throws {
        let (engine, transcript, _) = try await servingEngine(["serve", "stream news heartbeat=0", "proxy p1"])
        await engine.execute("drop news conn=1")
        #expect(transcript.failures.last?.message.contains("conn= picks an exchange of a proxy") == true)
        await engine.execute("stall p1 1s client=3")
        #expect(transcript.failures.last?.message.contains("client= picks a client of a stream") == true)
        await engine.execute("skip p2")
        #expect(transcript.failures.last?.message == "skip: no proxy named p2; did you mean p1?")
        await engine.execute("drop p1 conn=9")
        #expect(transcript.failures.last?.message == "drop: no open connection #9 through this proxy")
        await engine.execute("rewrite p1")
        #expect(transcript.failures.last?.message == "rewrite: rewrite needs retry=DURATION or id=off")
        await engine.execute("proxy p1")
        #expect(transcript.failures.last?.message.contains("a proxy named p1 is running") == true)
        await engine.execute("proxy p3 ftp://x")
        #expect(transcript.failures.last?.message.contains("is not an http:// or https:// URL") == true)
        await engine.shutdown()
    }
}
