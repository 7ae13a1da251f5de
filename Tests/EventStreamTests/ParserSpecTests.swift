import Testing

@testable import EventStream

/// One test per rule of the WHATWG HTML standard's event-stream interpretation (9.2.6), numbered as
/// in the project's checklist of those rules ("Decoding and lines", "Fields", "Dispatch"); every
/// input is parsed whole, in 1-byte chunks and at every split point.
@Suite("Parser: decoding and lines")
struct DecodingAndLinesTests {
    @Test("1. invalid UTF-8 becomes U+FFFD, sequences split across reads decode whole")
    func utf8() {
        let bytes: [UInt8] = Array("data: a".utf8) + [0xFF, 0xC3] + Array("\ndata: é日😀\n\n".utf8)
        let result = parseAtEverySplit([bytes])
        #expect(result.outputs == [event("a\u{FFFD}\u{FFFD}\né日😀")])
    }

    @Test("1. a truncated sequence at the end of a line is one U+FFFD, the line end kept")
    func truncatedSequence() {
        let bytes: [UInt8] = Array("data: ".utf8) + [0xE6, 0x97] + Array("\n\n".utf8)
        #expect(parseAtEverySplit([bytes]).outputs == [event("\u{FFFD}")])
    }

    @Test("1. invalid UTF-8 in event type and id is replaced too")
    func utf8InTypeAndId() {
        let bytes: [UInt8] = Array("event: t".utf8) + [0x80] + Array("\nid: i".utf8) + [0xFE] + Array("\ndata: x\n\n".utf8)
        #expect(parseAtEverySplit([bytes]).outputs == [event("x", type: "t\u{FFFD}", id: "i\u{FFFD}")])
    }

    @Test("2. one leading BOM is stripped, also when its bytes arrive separately")
    func leadingBOM() {
        #expect(parseAtEverySplit(["\u{FEFF}data: x\n\n"]).outputs == [event("x")])
    }

    @Test("2. a second BOM makes the first line's field name unknown")
    func secondBOM() {
        #expect(parseAtEverySplit(["\u{FEFF}\u{FEFF}data: x\n\ndata: y\n\n"]).outputs == [event("y")])
    }

    @Test("2. a BOM later in the stream is ordinary text")
    func laterBOM() {
        #expect(parseAtEverySplit(["data: a\n\n\u{FEFF}data: b\n\ndata: \u{FEFF}c\n\n"]).outputs == [event("a"), event("\u{FEFF}c")])
    }

    @Test("2. each new connection may start with its own BOM")
    func bomPerConnection() {
        #expect(parseAtEverySplit(["\u{FEFF}data: a\n\n", "\u{FEFF}data: b\n\n"]).outputs == [event("a"), event("b")])
    }

    @Test("2. a BOM alone on the first line leaves an empty line")
    func bomOnlyLine() {
        #expect(parseAtEverySplit(["\u{FEFF}\ndata: a\n\n"]).outputs == [event("a")])
    }

    @Test("3. lines end at LF, CR and CRLF, mixed in one stream")
    func lineEnds() {
        let expected = [event("a\nb\nc"), event("d")]
        #expect(parseAtEverySplit(["data: a\rdata: b\r\ndata: c\n\r\ndata: d\r\r"]).outputs == expected)
    }

    @Test("3. CR LF is one line end even split across reads; LF CR is two")
    func crlfOnce() {
        #expect(parseAtEverySplit(["data: a\r\n\r\n"]).outputs == [event("a")])
        #expect(parseAtEverySplit(["data: a\n\rdata: b\n\n"]).outputs == [event("a"), event("b")])
    }

    @Test("3. CR CR is two line ends, so it dispatches")
    func crcr() {
        #expect(parseAtEverySplit(["data: a\r\rdata: b\r\r"]).outputs == [event("a"), event("b")])
    }
}

@Suite("Parser: fields")
struct FieldTests {
    @Test("4. the buffers start empty: no id, type message")
    func buffersStartEmpty() {
        let result = parseAtEverySplit(["data: x\n\n"])
        #expect(result.outputs == [event("x")])
        #expect(result.lastEventId == "")
        #expect(result.reconnectionTime == nil)
    }

    @Test("5. an empty line dispatches; consecutive empty lines dispatch nothing more")
    func emptyLineDispatches() {
        #expect(parseAtEverySplit(["\n\ndata: a\n\n\n\ndata: b\n\n"]).outputs == [event("a"), event("b")])
    }

    @Test("6. a line starting with a colon is a comment, whatever follows")
    func comments() {
        let result = parseAtEverySplit([":data: x\n: hello\n:\n:  two spaces\n\n"])
        #expect(result.outputs == [.comment("data: x"), .comment("hello"), .comment(""), .comment(" two spaces")])
        let ignored = parseAtEverySplit([": c\ndata: x\n\n"], comments: false)
        #expect(ignored.outputs == [event("x")])
    }

    @Test("7. exactly one leading space is removed; a tab or second space stays")
    func oneSpace() {
        let result = parseAtEverySplit(["data:a\n\ndata: b\n\ndata:  c\n\ndata:\td\n\ndata: e:f: g\n\n"])
        #expect(result.outputs == [event("a"), event("b"), event(" c"), event("\td"), event("e:f: g")])
    }

    @Test("7. the name ends at the first colon")
    func firstColon() {
        #expect(parseAtEverySplit(["data:: x\n\nevent:a:b\ndata\n\n"]).outputs == [event(": x"), event("", type: "a:b")])
    }

    @Test("8. a line without a colon is a name with an empty value")
    func noColon() {
        #expect(parseAtEverySplit(["data\n\n"]).outputs == [event("")])
        #expect(parseAtEverySplit(["data\ndata\n\n"]).outputs == [event("\n")])
        #expect(parseAtEverySplit(["data \n\ndata: x\n\n"]).outputs == [event("x")])
        #expect(parseAtEverySplit(["event\ndata: x\n\n"]).outputs == [event("x")])
    }

    @Test("9. names are case-sensitive and unknown names are ignored")
    func caseSensitive() {
        let input = "Data: no\nDATA: no\nEvent: no\nID: no\nRetry: 1\nfoo: bar\ndata: yes\n\n"
        let result = parseAtEverySplit([input])
        #expect(result.outputs == [event("yes")])
        #expect(result.reconnectionTime == nil)
    }

    @Test("10. event sets the type; an empty type means message")
    func eventType() {
        let result = parseAtEverySplit(["event: add\ndata: 1\n\nevent:\ndata: 2\n\nevent: a\nevent: b\ndata: 3\n\n"])
        #expect(result.outputs == [event("1", type: "add"), event("2"), event("3", type: "b")])
    }

    @Test("11. data lines are joined with LF and the final LF removed")
    func dataJoining() {
        #expect(parseAtEverySplit(["data: a\ndata: b\ndata:\ndata: c\n\n"]).outputs == [event("a\nb\n\nc")])
        #expect(parseAtEverySplit(["data: \n\n"]).outputs == [event("")])
    }

    @Test("12. id sets the last event id; it persists across events")
    func idPersists() {
        let result = parseAtEverySplit(["id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"])
        #expect(result.outputs == [event("a", id: "1"), event("b", id: "1"), event("c", id: "2")])
        #expect(result.lastEventId == "2")
    }

    @Test("12. an id containing NUL is ignored and the previous value stays")
    func idWithNull() {
        let result = parseAtEverySplit(["id: 1\ndata: a\n\nid: 2\u{0}3\ndata: b\n\n"])
        #expect(result.outputs == [event("a", id: "1"), event("b", id: "1")])
        #expect(result.lastEventId == "1")
    }

    @Test("12. a NUL anywhere in an id of any length is found, and no other byte is taken for one")
    func idNullAtEveryPosition() {
        // Every length up to several vectors' worth, NUL at each place, among bytes a vectorised or
        // word-at-a-time search could confuse with zero (0x01, 0x80, 0xFF) or plain digits.
        for length in 0...40 {
            for filler: UInt8 in [0x01, 0x31, 0x80, 0xFF] {
                let plain = [UInt8](repeating: filler, count: length)
                plain.withUnsafeBufferPointer { #expect(FieldRules.acceptsId($0), "length \(length), filler \(filler)") }
                for position in 0..<length {
                    var withNull = plain
                    withNull[position] = 0
                    withNull.withUnsafeBufferPointer { #expect(!FieldRules.acceptsId($0), "length \(length), NUL at \(position)") }
                }
            }
        }
        let stream = "id: 1\ndata: a\n\nid: 0123456789abcdef\u{0}\ndata: b\n\nid: 01234\u{0}67\ndata: c\n\n"
        #expect(parseAtEverySplit([stream]).outputs == [event("a", id: "1"), event("b", id: "1"), event("c", id: "1")])
    }

    @Test("12. an empty id resets the last event id; `id` alone does too")
    func idReset() {
        let result = parseAtEverySplit(["id: 1\ndata: a\n\nid:\ndata: b\n\nid: 2\n\nid\ndata: c\n\n"])
        #expect(result.outputs == [event("a", id: "1"), event("b"), event("c")])
        #expect(result.lastEventId == "")
    }

    @Test("12. an id keeps spaces and colons after the one removed space")
    func idValue() {
        #expect(parseAtEverySplit(["id:  a:b \ndata\n\n"]).outputs == [event("", id: " a:b ")])
    }

    @Test("13. retry applies only when every character is an ASCII digit")
    func retryDigits() {
        let input = "retry: 1000\nretry: 3000ms\nretry:\nretry: -1\nretry: +5\nretry: 1.5\nretry:  7\nretry: ٣\nretry\n\n"
        let result = parseAtEverySplit([input])
        #expect(result.outputs == [.retry(1000)])
        #expect(result.reconnectionTime == 1000)
    }

    @Test("13. retry is base 10 with leading zeros; past Int.max it saturates")
    func retryBase10() {
        #expect(parseAtEverySplit(["retry: 03000\n"]).outputs == [.retry(3000)])
        #expect(parseAtEverySplit(["retry: 0\n"]).outputs == [.retry(0)])
        let huge = parseAtEverySplit(["retry: 99999999999999999999999999\n"])
        #expect(huge.outputs == [.retry(Int.max)])
        #expect(huge.reconnectionTime == Int.max)
    }

    @Test("13. a retry inside an event's block is reported at once and attached to the event")
    func retryWithEvent() {
        let result = parseAtEverySplit(["data: a\nretry: 5\n\ndata: b\n\n"])
        #expect(result.outputs == [.retry(5), event("a", retry: 5), event("b")])
    }
}

@Suite("Parser: dispatch and connections")
struct DispatchTests {
    @Test("14. the id is committed at dispatch even when no event follows")
    func idWithoutEvent() {
        let result = parseAtEverySplit(["id: 5\n\n"])
        #expect(result.outputs == [])
        #expect(result.lastEventId == "5")
    }

    @Test("14. an empty data buffer clears the type: no event, next event is message")
    func emptyDataClearsType() {
        #expect(parseAtEverySplit(["event: x\n\ndata: y\n\n"]).outputs == [event("y")])
    }

    @Test("14. type and data are cleared after dispatch, the id is not")
    func clearedAfterDispatch() {
        let result = parseAtEverySplit(["event: e\nid: 9\ndata: a\n\ndata: b\n\n"])
        #expect(result.outputs == [event("a", type: "e", id: "9"), event("b", id: "9")])
    }

    @Test("15. an unterminated final block is discarded and its id not committed")
    func unterminatedBlock() {
        let result = parseAtEverySplit(["id: 1\ndata: a\n\nid: 2\ndata: b\n"])
        #expect(result.outputs == [event("a", id: "1")])
        #expect(result.lastEventId == "1")
    }

    @Test("15. a final line without a line end is discarded too")
    func unterminatedLine() {
        #expect(parseAtEverySplit(["data: a\n\ndata: b"]).outputs == [event("a")])
        #expect(parseAtEverySplit(["data: a\n\ndata: b\r"]).outputs == [event("a")])
    }

    @Test("16. the last event id persists across reconnections; the uncommitted one does not")
    func acrossReconnections() {
        let result = parseAtEverySplit(["id: 1\ndata: a\n\nid: 2\n", "data: b\n\n"])
        #expect(result.outputs == [event("a", id: "1"), event("b", id: "1")])
        #expect(result.lastEventId == "1")
    }

    @Test("16. an initial last event id is used until the stream sets another")
    func initialLastEventId() {
        let result = parseAtEverySplit(["data: a\n\nid: 8\ndata: b\n\n"], lastEventId: "7")
        #expect(result.outputs == [event("a", id: "7"), event("b", id: "8")])
    }

    @Test("16. the reconnection time persists across reconnections")
    func retryAcrossReconnections() {
        let result = parseAtEverySplit(["retry: 100\n", "data: x\n\n"])
        #expect(result.reconnectionTime == 100)
    }

    @Test("a typical stream, as a server would write it")
    func typicalStream() {
        let input = ": welcome\nretry: 2000\n\nid: 1\nevent: tick\ndata: {\"n\":1}\n\nid: 2\nevent: tick\ndata: {\"n\":2}\n\n"
        let result = parseAtEverySplit([input])
        #expect(
            result.outputs == [
                .comment("welcome"), .retry(2000), event("{\"n\":1}", type: "tick", id: "1"), event("{\"n\":2}", type: "tick", id: "2"),
            ])
    }
}

@Suite("Parser: limits")
struct LimitTests {
    @Test("a line over the limit is an error naming its line; nothing is buffered past the limit")
    func lineTooLong() {
        let limits = EventStreamParser.Limits(maxLineLength: 8, maxEventSize: 100)
        let result = parseAtEverySplit(["data: a\n\ndata: 123456789\n\ndata: c\n\n"], limits: limits)
        #expect(result.outputs == [event("a")])
        #expect(result.error == .lineTooLong(line: 3, limit: 8))
    }

    @Test("a line exactly at the limit is accepted")
    func lineAtLimit() {
        let limits = EventStreamParser.Limits(maxLineLength: 8, maxEventSize: 100)
        #expect(parseAtEverySplit(["data: ab\n\n"], limits: limits).outputs == [event("ab")])
    }

    @Test("an event over the size limit is an error naming the line that crossed it")
    func eventTooLarge() {
        let limits = EventStreamParser.Limits(maxLineLength: 100, maxEventSize: 6)
        let result = parseAtEverySplit(["data: ab\ndata: cd\n\ndata: abc\ndata: def\n\n"], limits: limits)
        #expect(result.outputs == [event("ab\ncd")])
        #expect(result.error == .eventTooLarge(line: 5, limit: 6))
    }

    @Test("after a limit error the parser stays failed until the stream ends, then parses again")
    func failureIsSticky() throws {
        var parser = EventStreamParser(limits: .init(maxLineLength: 4, maxEventSize: 100))
        #expect(throws: EventStreamError.lineTooLong(line: 1, limit: 4)) { try parser.parse(Array("data: long".utf8)) }
        #expect(throws: EventStreamError.lineTooLong(line: 1, limit: 4)) { try parser.parse(Array("\n\n".utf8)) }
        parser.endOfStream()
        #expect(try parser.parse(Array("data\n\n".utf8)) == [event("")])
    }

    @Test("a huge line fed in pieces fails as soon as it crosses the limit")
    func hugeLineBounded() {
        var parser = EventStreamParser(limits: .init(maxLineLength: 1 << 16, maxEventSize: 1 << 16))
        let piece = [UInt8](repeating: UInt8(ascii: "x"), count: 4096)
        var fedBytes = 0
        var failed = false
        while fedBytes < 1 << 20, !failed {
            do {
                _ = try parser.parse(piece)
                fedBytes += piece.count
            } catch {
                failed = true
            }
        }
        #expect(failed)
        #expect(fedBytes <= 1 << 16)
    }
}

/// Issue 15.30: the limits the contract-test service reads with take the suite's multi-megabyte lines.
@Suite("Parser: browser-like limits")
struct BrowserLikeLimitsTests {
    @Test("a 4 MiB line in one read or two is one event with browser-like limits, and over the default limit")
    func largeLine() throws {
        let data = String(repeating: "m", count: 4 << 20)
        let bytes = Array("data: \(data)\n\n".utf8)
        for pieces in [[bytes[...]], [bytes[..<(bytes.count / 2)], bytes[(bytes.count / 2)...]]] {
            var parser = EventStreamParser(limits: .browserLike)
            var events: [ServerSentEvent] = []
            for piece in pieces {
                try Array(piece).withUnsafeBytes { raw in
                    try parser.parse(raw) { output in if case .event(let event) = output { events.append(event) } }
                }
            }
            #expect(events.map(\.data.count) == [data.count])
        }
        var strict = EventStreamParser()
        #expect(throws: EventStreamError.self) { try bytes.withUnsafeBytes { raw in try strict.parse(raw) { (_: EventStreamParser.Output) in } } }
    }
}
