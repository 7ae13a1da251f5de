import EventStream
import Testing

@Suite("JSON values and event lines")
struct JSONTests {
    @Test("values parse and print back compactly, members in order")
    func roundTrip() throws {
        let text = #"{"b":1,"a":[true,false,null,-1.5e3,"x\"\\\n\u00e9\ud83d\ude00"],"c":{}}"#
        let value = try JSONValue(parsing: text)
        #expect(value["b"] == .number("1"))
        #expect(value.serialized == #"{"b":1,"a":[true,false,null,-1.5e3,"x\"\\\né😀"],"c":{}}"#)
    }

    @Test("pretty printing indents two spaces per level")
    func pretty() throws {
        let value = try JSONValue(parsing: #"{"n":1,"l":[1,2]}"#)
        #expect(value.prettyPrinted() == "{\n  \"n\": 1,\n  \"l\": [\n    1,\n    2\n  ]\n}")
    }

    @Test("control characters are escaped when printed")
    func escaping() {
        var bytes: [UInt8] = []
        JSONValue.appendQuoted("a\u{0}\u{1F}\t\r\n\u{8}\u{C}é", to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #""a\u0000\u001f\t\r\n\b\fé""#)
    }

    @Test(
        "syntax errors name the column",
        arguments: [
            (#"{"a":1"#, 7, "unterminated object: expected ',' or '}'"),
            (#"{"a" 1}"#, 6, "expected ':' after the member name"),
            (#"[1,]"#, 4, "expected a JSON value"),
            (#"01"#, 1, "leading zero in number"),
            (#""abc"#, 1, "unterminated string"),
            (#"{"é":x}"#, 6, "expected a JSON value"),
            (#"1 2"#, 3, "unexpected text after the JSON value"),
            ("", 1, "expected a JSON value, found the end of the line"),
        ])
    func syntaxErrors(text: String, column: Int, message: String) {
        #expect(throws: JSONSyntaxError(column: column, message: message)) { try JSONValue(parsing: text) }
    }

    @Test("deep nesting is an error, not a stack overflow")
    func deepNesting() {
        let text = String(repeating: "[", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: text) }
    }

    @Test("event lines print in the decode shape and read back")
    func eventLines() throws {
        let outputs: [EventStreamParser.Output] = [
            .event(ServerSentEvent(type: "tick", data: "a\nb \"q\"", id: "7")), .retry(3000), .comment("keep"),
        ]
        let lines = outputs.map(\.jsonLine)
        #expect(lines == [#"{"type":"tick","data":"a\nb \"q\"","lastEventId":"7"}"#, #"{"retry":3000}"#, #"{"comment":"keep"}"#])
        #expect(try lines.map { try EventStreamParser.Output(jsonLine: $0) } == outputs)
    }

    @Test("an event line may omit type and lastEventId")
    func eventLineDefaults() throws {
        #expect(try EventStreamParser.Output(jsonLine: #"{"data":"x"}"#) == .event(ServerSentEvent(data: "x", id: nil)))
    }

    @Test(
        "malformed event lines are rejected with a reason",
        arguments: [
            (#"{"data":1}"#, #""data" must be a string, not 1"#),
            (#"{"type":"x"}"#, #"an event line needs "data""#),
            (#"{"data":"x","id":"1"}"#, #"unknown key "id"; expected type, data, lastEventId, retry or comment"#),
            (#"{"data":"x","retry":1}"#, #""retry" cannot share a line with an event; put it on its own line"#),
            (#"{"retry":-1}"#, #""retry" must be a whole number of milliseconds, not -1"#),
            (#"{"retry":1.5}"#, #""retry" must be a whole number of milliseconds, not 1.5"#),
            (#"[1]"#, "expected a JSON object"),
            (#"{}"#, #"expected an event {"type","data","lastEventId"}, {"retry":N} or {"comment":…}"#),
        ])
    func malformedEventLines(line: String, message: String) {
        #expect(throws: JSONSyntaxError(column: 1, message: message)) { try EventStreamParser.Output(jsonLine: line) }
    }
}
