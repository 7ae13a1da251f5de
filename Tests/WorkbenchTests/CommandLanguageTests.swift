import EventStream
import Testing
import Workbench

@Suite("Command language: words")
struct LexerTests {
    func texts(_ line: String) throws -> [String] { try CommandLexer.words(in: line).map(\.text) }

    @Test("words split on spaces; quotes group; escapes in both quote kinds; # starts a comment")
    func words() throws {
        #expect(try texts("emit news  data=x") == ["emit", "news", "data=x"])
        #expect(try texts(#"emit news data='{"n": 1}' id=auto"#) == ["emit", "news", #"data={"n": 1}"#, "id=auto"])
        #expect(try texts(#"comment news "two words" 'and\nmore'"#) == ["comment", "news", "two words", "and\nmore"])
        #expect(try texts(#"x "tab\there" 'it\'s' "say \"hi\"" back\\slash"#) == ["x", "tab\there", "it's", "say \"hi\"", "back\\slash"])
        #expect(try texts("emit news # a comment 'not a quote") == ["emit", "news"])
        #expect(try texts("   # only a comment") == [])
        #expect(try texts("emit news data='a#b'") == ["emit", "news", "data=a#b"])
        #expect(try texts("x ''") == ["x", ""])
    }

    @Test("columns point at each word; bad quoting is an error at the right column")
    func columns() throws {
        #expect(try CommandLexer.words(in: "emit  news").map(\.column) == [1, 7])
        #expect(throws: CommandError("unterminated quote", column: 11)) { try CommandLexer.words(in: "emit news 'open") }
        #expect(throws: CommandError("unknown escape '\\q'; use \\n, \\t, \\r, \\0, \\\\, \\' or \\\"", column: 6)) {
            try CommandLexer.words(in: #"x "ab\q""#)
        }
    }
}

@Suite("Command language: commands")
struct ParserTests {
    @Test("a valid line parses to its command, arguments and options")
    func parses() throws {
        let command = try #require(try CommandParser.parse("emit news event=tick id=auto data='{\"n\":1}'"))
        #expect(command.spec.name == "emit")
        #expect(command.argument("stream") == "news")
        #expect(command.option("event") == "tick")
        #expect(command.option("data") == #"{"n":1}"#)
        let connect = try #require(try CommandParser.parse("connect c1 http://127.0.0.1:8080/s header='A: 1' header='B: 2' read-timeout=30s"))
        #expect(connect.values(of: "header") == ["A: 1", "B: 2"])
        #expect(connect.duration("read-timeout") == DurationValue(clampingMilliseconds: 30_000))
        let comment = try #require(try CommandParser.parse("comment news keep alive a=b"))
        #expect(comment.argument("text") == "keep alive a=b")
        #expect(try CommandParser.parse("  # nothing") == nil)
    }

    @Test(
        "errors name the command, the bad word and its column, and suggest the nearest valid one",
        arguments: [
            ("emti news", "unknown command 'emti'; did you mean 'emit'?", 1),
            ("frobnicate", "unknown command 'frobnicate'; try 'help'", 1),
            ("emit news evnt=tick", "emit: unknown option 'evnt='; did you mean 'event='?", 11),
            ("emit", "emit: missing STREAM (usage: emit STREAM [event=TEXT] [id=TEXT] [data=DATA|@FILE] [retry=DURATION] [to=N])", 5),
            ("stall news 5x", "stall: DURATION '5x' has an unknown unit 'x' (ms, s, m, h or d)", 12),
            ("drop news mode=rest", "drop: mode= 'rest' is not one of clean, truncate, reset, stream, connection; did you mean 'reset'?", 16),
            ("drop news client=x", "drop: client= 'x' is not a whole number", 18),
            ("emit news event=a event=b", "emit: event= is given twice", 19),
            ("clients now", "clients: unexpected 'now' (usage: clients)", 9),
            ("log raw=maybe", "log: raw= 'maybe' is not on or off", 9),
            ("sleep", "sleep: missing DURATION (usage: sleep DURATION)", 6),
            ("clients x=1", "clients: unknown option 'x='; did you mean… nothing", 9),
        ])
    func errors(line: String, message: String, column: Int) {
        do {
            _ = try CommandParser.parse(line)
            Issue.record("\(line) parsed")
        } catch {
            if message.hasSuffix("nothing") {
                #expect(error.message == "clients takes no options (usage: clients)")
            } else {
                #expect(error.message == message)
            }
            #expect(error.column == column)
        }
    }

    @Test("every command's examples parse, and every command has a summary")
    func examplesParse() throws {
        for spec in CommandTable.commands {
            #expect(!spec.summary.isEmpty, "\(spec.name)")
            #expect(!spec.examples.isEmpty, "\(spec.name) has no example")
            // on-connect's example is a whole block: its first line opens it, the lines after are the
            // commands a block holds.
            let isBlock = spec.name == CommandName.onConnect.rawValue
            for (index, example) in spec.examples.enumerated() {
                let parsed = try CommandParser.parse(example)
                if isBlock, index > 0 {
                    #expect(parsed != nil, "\(example)")
                } else {
                    #expect(parsed?.spec.name == spec.name, "\(example)")
                }
            }
        }
    }

    @Test("suggestions rank the closest names first")
    func suggestions() {
        #expect(CommandTable.suggestions(for: "strem", among: ["stream", "streams", "stop"]).first == "stream")
        #expect(CommandTable.suggestions(for: "zzzz", among: ["stream", "stop"]).isEmpty)
    }
}
