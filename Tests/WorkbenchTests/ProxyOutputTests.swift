import SSEProxy
import SSEServer
import Testing

@testable import Workbench

@Suite("What a person reads of a proxy's traffic")
struct ProxyOutputTests {
    @Test("an exchange's lines carry the proxy's name and the exchange's number")
    func exchangeLines() {
        let request = ProxyEvent.request(connection: 2, method: "GET", target: "/events", headers: [.init(name: "Last-Event-ID", value: "3")])
        #expect(ProxyOutput(style: ClientOutputStyle(), name: "p1").lines(for: request, time: "") == ["p1#2: → GET /events (Last-Event-ID: 3)"])
        #expect(ProxyOutput(style: ClientOutputStyle()).lines(for: request, time: "") == ["#2: → GET /events (Last-Event-ID: 3)"])
    }

    @Test("a problem of the proxy itself (connection 0) names only the proxy")
    func proxyProblem() {
        let problem = ProxyEvent.problem(connection: 0, "out of file descriptors")
        #expect(ProxyOutput(style: ClientOutputStyle(), name: "p1").lines(for: problem, time: "") == ["p1: problem: out of file descriptors"])
        #expect(ProxyOutput(style: ClientOutputStyle()).lines(for: problem, time: "") == ["problem: out of file descriptors"])
        let json = ProxyOutput(style: ClientOutputStyle(json: true), name: "p1").lines(for: problem, time: "t")
        #expect(json.count == 1 && json[0].contains(#""connection":0"#) && json[0].contains(#""message":"out of file descriptors""#))
    }
}
