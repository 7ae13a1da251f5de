import Testing
import Workbench

@Suite("Tab completion")
struct CompletionTests {
    let names = CompletionNames.Names(clients: ["c1", "c2", "llm"], streams: ["news", "dashboard"], proxies: ["p1"])

    @Test(
        "commands, then arguments by kind, then option names not yet used",
        arguments: [
            ("em", ["emit"]),
            ("st", ["stop", "stream", "stall", "streams", "status"]),
            ("emit ", ["news", "dashboard", "event=", "id=", "data=", "retry=", "to="]),
            ("stall ", ["news", "dashboard", "p1", "client=", "conn="]),
            ("emit ne", ["news"]),
            ("emit news ev", ["event="]),
            ("emit news event=a ", ["id=", "data=", "retry=", "to="]),
            ("close ", ["c1", "c2", "llm", "p1"]),
            ("skip ", ["p1", "count=", "conn="]),
            ("connect c3 news via=", ["via=p1"]),
            ("drop p1 af", ["after="]),
            ("cut l", ["llm"]),
            ("drop news mode=r", ["mode=reset"]),
            ("log raw=", ["raw=on", "raw=off"]),
            ("corrupt news ", ["bare-cr", "invalid-utf8", "long-line", "no-blank-line", "size=", "client=", "conn="]),
            ("help str", ["stream", "streams"]),
            ("connect c9 http://x header='A: 1' hea", ["header="]),
            ("nonsense ", []),
        ])
    func candidates(prefix: String, expected: [String]) {
        #expect(Completion.candidates(for: prefix, names: names) == expected)
    }

    @Test("files after @ and for file arguments")
    func files() {
        let candidates = Completion.candidates(for: "emit news data=@Package.sw", names: names)
        #expect(candidates == ["data=@Package.swift"])
        #expect(Completion.candidates(for: "connect c1 news cacert=Sourc", names: names) == ["cacert=Sources/"])
    }
}
