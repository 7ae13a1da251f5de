import EventStream
import TestSupport
import Testing

@Suite("Encoder")
struct EncoderTests {
    let encoder = EventStreamEncoder()

    @Test("fields are written in order with one space, and a blank line dispatches")
    func wireFormat() throws {
        let text = try encoder.encode(ServerSentEvent(type: "tick", data: "{\"n\":1}", id: "7", retry: 2000))
        #expect(text == "id: 7\nevent: tick\nretry: 2000\ndata: {\"n\":1}\n\n")
    }

    @Test("the message type and a nil id write no field")
    func defaults() throws {
        #expect(try encoder.encode(ServerSentEvent(data: "x")) == "data: x\n\n")
    }

    @Test("data is split on CRLF, CR and LF; empty parts are bare data: lines")
    func dataLines() throws {
        #expect(try encoder.encode(ServerSentEvent(data: "a\r\nb\rc\nd")) == "data: a\ndata: b\ndata: c\ndata: d\n\n")
        #expect(try encoder.encode(ServerSentEvent(data: "")) == "data:\n\n")
        #expect(try encoder.encode(ServerSentEvent(data: "\n")) == "data:\ndata:\n\n")
        #expect(try encoder.encode(ServerSentEvent(data: " lead")) == "data:  lead\n\n")
    }

    @Test("an empty id resets the last event id on the wire")
    func emptyID() throws {
        #expect(try encoder.encode(ServerSentEvent(data: "x", id: "")) == "id:\ndata: x\n\n")
    }

    @Test("ids with CR, LF or NUL and types with CR or LF are rejected, naming the value")
    func rejected() {
        for id in ["a\nb", "a\rb", "a\u{0}b"] {
            #expect(throws: EventEncodingError.invalidID(id)) { try encoder.encode(ServerSentEvent(data: "x", id: id)) }
        }
        for type in ["a\nb", "a\rb"] {
            #expect(throws: EventEncodingError.invalidType(type)) { try encoder.encode(ServerSentEvent(type: type, data: "x")) }
        }
        #expect(throws: EventEncodingError.invalidRetry(-1)) { try encoder.encode(ServerSentEvent(data: "x", retry: -1)) }
        #expect(EventEncodingError.invalidID("a\nb").description == #"id "a\nb" contains CR, LF or NUL"#)
    }

    @Test("comments are `: text`, one line per line of text")
    func comments() {
        #expect(encoder.encodeComment("keep-alive") == ": keep-alive\n")
        #expect(encoder.encodeComment("a\nb") == ": a\n: b\n")
        #expect(encoder.encodeComment("") == ":\n")
    }

    @Test("a standalone retry is digits only")
    func retry() throws {
        var bytes: [UInt8] = []
        try encoder.appendRetry(3000, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "retry: 3000\n")
    }
}

@Suite("Encode → decode round trip")
struct RoundTripTests {
    static let alphabet: [String] = [
        "a", "Z", "0", " ", "  ", ":", ": ", "\r", "\n", "\r\n", "\t", "é", "日本", "😀", "\u{FEFF}", "\u{2028}", "\u{0}", "data:", "id", "\u{7F}",
    ]

    static func text(_ generator: inout SeededGenerator, maxLength: Int, excluding: Set<String> = []) -> String {
        let pool = alphabet.filter { !excluding.contains($0) }
        return (0..<Int.random(in: 0...maxLength, using: &generator)).map { _ in pool.randomElement(using: &generator) ?? "" }.joined()
    }

    /// Data as a parser returns it: CRLF and CR become LF.
    static func normalized(_ data: String) -> String {
        var scalars = String.UnicodeScalarView()
        var previousWasCR = false
        for scalar in data.unicodeScalars {
            defer { previousWasCR = scalar == "\r" }
            if scalar == "\n", previousWasCR { continue }
            scalars.append(scalar == "\r" ? "\n" : scalar)
        }
        return String(scalars)
    }

    @Test("generated events survive encode → decode at every chunking", arguments: 0..<40)
    func roundTrip(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let encoder = EventStreamEncoder()
        var wire: [UInt8] = []
        var expected: [EventStreamParser.Output] = []
        var lastEventId = ""
        for _ in 0..<Int.random(in: 1...12, using: &generator) {
            let lineBreaks: Set = ["\r", "\n", "\r\n"]
            let type = Bool.random(using: &generator) ? "message" : Self.text(&generator, maxLength: 3, excluding: lineBreaks)
            let id: String? = Bool.random(using: &generator) ? Self.text(&generator, maxLength: 3, excluding: lineBreaks.union(["\u{0}"])) : nil
            let retry: Int? = Int.random(in: 0..<4, using: &generator) == 0 ? Int.random(in: 0...100_000, using: &generator) : nil
            let data = Self.text(&generator, maxLength: 8)
            try encoder.append(ServerSentEvent(type: type, data: data, id: id, retry: retry), to: &wire)
            if let id { lastEventId = id }
            if let retry { expected.append(.retry(retry)) }
            expected.append(event(Self.normalized(data), type: type.isEmpty ? "message" : type, id: lastEventId, retry: retry))
            if Int.random(in: 0..<4, using: &generator) == 0 {
                let comment = Self.text(&generator, maxLength: 4)
                encoder.appendComment(comment, to: &wire)
                expected += Self.normalized(comment).unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map {
                    .comment(String(String.UnicodeScalarView($0)))
                }
            }
        }
        let result = parseAtEverySplit([wire])
        #expect(result.outputs == expected)
        #expect(result.lastEventId == lastEventId)
    }

    @Test("random chunkings of a long generated stream agree with the whole", arguments: 0..<10)
    func randomChunkings(seed: UInt64) throws {
        var generator = SeededGenerator(seed: 1000 + seed)
        var wire: [UInt8] = []
        for _ in 0..<200 {
            let data = Self.text(&generator, maxLength: 30)
            try EventStreamEncoder().append(ServerSentEvent(data: data, id: String(Int.random(in: 0...9, using: &generator))), to: &wire)
        }
        let whole = run([[wire]])
        for _ in 0..<20 {
            var chunks: [[UInt8]] = []
            var offset = 0
            while offset < wire.count {
                let size = Int.random(in: 1...64, using: &generator)
                chunks.append(Array(wire[offset..<min(offset + size, wire.count)]))
                offset += size
            }
            #expect(run([chunks]) == whole)
        }
        #expect(whole.events.count == 200)
    }
}
