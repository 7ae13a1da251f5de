import Testing

@testable import EventStream

/// `parse(_:appendingJSONLinesTo:)` and `parse(_:appendingTextLinesTo:)` against the materialised
/// form: for any bytes, any chunking, any limits, the lines they write are `appendJSONLine` (or
/// `appendTextLines`) of what `parse(_:_:)` outputs, and the state a reconnect uses (last event id,
/// reconnection time) and the error are the same.
@Suite("Parsing straight to JSON or text lines")
struct JSONLineFormTests {
    /// Pieces streams are made of: every field, odd spellings, every line end, the BOM, bytes that
    /// JSON must escape, UTF-8 of every length, ill-formed UTF-8, NUL in ids.
    static let pieces: [[UInt8]] =
        [
            "data: {\"seq\":1,\"payload\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}", "data:x", "data", "data: ", "event: update", "event:",
            "event: a\"b\\c", "id: 42", "id:", "id", "id: 1\u{0}2", "retry: 3000", "retry: 12x", "retry:", ": comment \"quoted\"", ":",
            "field: ignored", "dat", "DATA: upper", "data: tab\there", "data: caf\u{E9} \u{1F600} \u{4E2D}", "data:  two spaces",
            "\n", "\n", "\n", "\r", "\r\n", "\r\n", "\n\n", "\r\r", "\u{FEFF}",
        ].map { Array($0.utf8) } + [
            [0x80], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0xFF],
            [0x01, 0x1F, 0x7F], Array("data: \u{8}\u{C}".utf8), Array("data: \u{1B}[31m\u{9B}\u{202E}\u{61C}\u{2066}\u{200D}".utf8),
            Array("event: \u{1B}]0;t\u{7}".utf8), Array("id: \u{85}\u{2069}".utf8),
        ]

    static func randomStream(using generator: inout SeededGenerator, pieces count: Int) -> [UInt8] {
        var stream: [UInt8] = []
        for _ in 0..<count { stream += pieces[Int.random(in: 0..<pieces.count, using: &generator)] }
        return stream
    }

    static func randomChunks(of stream: [UInt8], using generator: inout SeededGenerator) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var offset = 0
        while offset < stream.count {
            let size = Bool.random(using: &generator) ? Int.random(in: 1...4, using: &generator) : Int.random(in: 1...200, using: &generator)
            let end = min(stream.count, offset + size)
            chunks.append(Array(stream[offset..<end]))
            offset = end
        }
        return chunks
    }

    /// Parses `chunks` straight to `form`'s lines (`direct`, a parser of the bytes form) or to events
    /// printed in `form` (a parser of the events form).
    static func parse(
        _ chunks: [[UInt8]], limits: EventStreamParser.Limits, comments: Bool, lastEventId: String = "",
        form: EventStreamParser.LineForm = .json, direct: Bool, vectorBlocks: Bool = true
    ) -> ParseOutcome<[UInt8]> {
        feed(chunks, form: direct ? .bytes : .events, limits: limits, comments: comments, lastEventId: lastEventId, vectorBlocks: vectorBlocks) {
            (index, bytes, parser, lines) throws(EventStreamError) in
            if direct {
                // Into an empty array (written in place) and onto what is there (appended), in turns.
                if index % 2 == 0 {
                    var fresh: [UInt8] = []
                    defer { lines += fresh }
                    try parser.parse(bytes, appending: form, to: &fresh)
                } else if form == .json {
                    try parser.parse(bytes, appendingJSONLinesTo: &lines)
                } else {
                    try parser.parse(bytes, appendingTextLinesTo: &lines)
                }
            } else {
                try parser.parse(bytes) { output in
                    if form == .json { output.appendJSONLine(to: &lines) } else { output.appendTextLines(to: &lines) }
                }
            }
        }
    }

    /// 150 random streams for `seed`, each cut into random chunks, with random limits and comments
    /// reported or not; `body` also gets the generator, for choices of its own.
    static func forEachRandomCase(
        seed: UInt64,
        _ body: (_ stream: [UInt8], _ chunks: [[UInt8]], _ limits: EventStreamParser.Limits, _ comments: Bool, inout SeededGenerator) -> Void
    ) {
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<150 {
            let stream = randomStream(using: &generator, pieces: Int.random(in: 0...60, using: &generator))
            let chunks = randomChunks(of: stream, using: &generator)
            let limits =
                Bool.random(using: &generator)
                ? EventStreamParser.Limits()
                : EventStreamParser.Limits(
                    maxLineLength: Int.random(in: 8...80, using: &generator), maxEventSize: Int.random(in: 8...200, using: &generator))
            let comments = Bool.random(using: &generator)
            body(stream, chunks, limits, comments, &generator)
        }
    }

    @Test("random streams, random chunks: the JSON and text forms write what the materialised form prints", arguments: 0..<8)
    func randomStreams(seed: UInt64) {
        for form in [EventStreamParser.LineForm.json, .text] {
            Self.forEachRandomCase(seed: seed) { stream, chunks, limits, comments, generator in
                let materialised = Self.parse(chunks, limits: limits, comments: comments, lastEventId: "7", form: form, direct: false)
                let direct = Self.parse(chunks, limits: limits, comments: comments, lastEventId: "7", form: form, direct: true)
                #expect(direct == materialised, "\(form) of stream \(String(decoding: stream, as: UTF8.self).debugDescription)")
            }
        }
    }

    @Test("the text form: one line per event, several data lines indented, the id only when set, controls escaped")
    func textLines() throws {
        let stream = Array(
            "retry: 1500\n: hi\u{1B}\ndata: one\n\nid: 4\nevent: tick\ndata: a\ndata:\tb\ndata\n\nid\ndata: \u{1B}[2J\u{202E}x\n\n".utf8)
        var lines: [UInt8] = []
        var parser = EventStreamParser(form: .bytes, reportsComments: true)
        try withBytes(stream) { (bytes) throws(EventStreamError) in try parser.parse(bytes, appendingTextLinesTo: &lines) }
        let expected = [
            "retry 1500 ms", #": hi\u{1B}"#, "message: one", "tick id=4:", "  a", "  \tb", "  ", #"message: \u{1B}[2J\u{202E}x"#, "",
        ]
        #expect(String(decoding: lines, as: UTF8.self) == expected.joined(separator: "\n"))
    }

    @Test("a block spread over many chunks keeps its type, id and data when written as JSON")
    func blockAcrossChunks() throws {
        let stream = Array("event: tick\nid: 9\ndata: one\ndata: two \"q\"\n\ndata: no id line\n\n".utf8)
        var lines: [UInt8] = []
        var parser = EventStreamParser(form: .bytes)
        for byte in stream { try withBytes([byte]) { (bytes) throws(EventStreamError) in try parser.parse(bytes, appendingJSONLinesTo: &lines) } }
        #expect(
            String(decoding: lines, as: UTF8.self) == """
                {"type":"tick","data":"one\\ntwo \\"q\\"","lastEventId":"9"}
                {"type":"message","data":"no id line","lastEventId":"9"}

                """)
        #expect(parser.lastEventId == "9")
    }

    @Test("a CR that ends a chunk and the LF that starts the next are one line end, in both forms and for the line count")
    func carriageReturnAtChunkEnd() {
        let long = String(repeating: "z", count: 30)
        let chunks = [Array("data: first\n\nid: 1\r\ndata: a\r\n\r".utf8), Array("\ndata: b\r\n\r\ndata: \(long)\r\n".utf8)]
        let limits = EventStreamParser.Limits(maxLineLength: 20)
        let materialised = Self.parse(chunks, limits: limits, comments: false, direct: false)
        let json = Self.parse(chunks, limits: limits, comments: false, direct: true)
        #expect(json == materialised)
        #expect(json.error == .lineTooLong(line: 8, limit: 20))
        #expect(String(decoding: json.output, as: UTF8.self).split(separator: "\n").count == 3)
    }

    @Test("lines that outgrow the room set aside for a chunk (tiny events) are all there, then and after")
    func outgrowingTheRoom() {
        let tiny = Array(String(repeating: "data\n\n:c\n", count: 800).utf8)
        let chunks = [tiny, tiny, tiny, Array("data: last\n\n".utf8)]
        for comments in [false, true] {
            let limits = EventStreamParser.Limits()
            let materialised = Self.parse(chunks, limits: limits, comments: comments, direct: false)
            let json = Self.parse(chunks, limits: limits, comments: comments, direct: true)
            #expect(json == materialised)
            #expect(json.output.count > 8 * tiny.count)
        }
    }

    @Test("a parser's form is fixed when it is made: asking a parser of the events form for JSON lines stops the program")
    func formIsFixed() async {
        #expect(EventStreamParser().form == .events)
        #expect(EventStreamParser(form: .bytes).form == .bytes)
        await #expect(processExitsWith: .failure) {
            var parser = EventStreamParser()
            var lines: [UInt8] = []
            try? withBytes(Array("data: x\n\n".utf8)) { (bytes) throws(EventStreamError) in try parser.parse(bytes, appendingJSONLinesTo: &lines) }
        }
    }

    @Test("a limit error leaves the lines before it and the parser failed, as in the materialised form")
    func limitError() throws {
        let stream = Array("data: short\n\ndata: \(String(repeating: "y", count: 40))\n\n".utf8)
        var parser = EventStreamParser(form: .bytes, limits: .init(maxLineLength: 20))
        var lines: [UInt8] = []
        #expect(throws: EventStreamError.lineTooLong(line: 3, limit: 20)) {
            try withBytes(stream) { (bytes) throws(EventStreamError) in try parser.parse(bytes, appendingJSONLinesTo: &lines) }
        }
        #expect(String(decoding: lines, as: UTF8.self) == "{\"type\":\"message\",\"data\":\"short\",\"lastEventId\":\"\"}\n")
        #expect(throws: EventStreamError.lineTooLong(line: 3, limit: 20)) {
            try withBytes(Array("\n".utf8)) { (bytes) throws(EventStreamError) in try parser.parse(bytes, appendingJSONLinesTo: &lines) }
        }
    }
}

/// What parsing a stream chunk by chunk gave: the form's output, the state a reconnect uses (last
/// event id, reconnection time) after each chunk and after the end, and the error that stopped it.
struct ParseOutcome<Output: Equatable>: Equatable {
    var output: Output
    var lastEventIds: [String] = []
    var reconnectionTimes: [Int?] = []
    var error: EventStreamError?
}

/// Feeds `chunks` one at a time to `parseChunk` (chunk index, bytes, parser, output so far) with a
/// parser made of `limits`, `comments` and `lastEventId` (and `VectorBlocks` in use or not), until
/// the first error; then ends the stream.
func feed<Output: Equatable & RangeReplaceableCollection>(
    _ chunks: [[UInt8]], form: EventStreamParser.Form, limits: EventStreamParser.Limits, comments: Bool, lastEventId: String,
    vectorBlocks: Bool = true, _ parseChunk: (Int, UnsafeRawBufferPointer, inout EventStreamParser, inout Output) throws(EventStreamError) -> Void
) -> ParseOutcome<Output> {
    var parser = EventStreamParser(form: form, limits: limits, reportsComments: comments, lastEventId: lastEventId)
    parser.usesVectorBlocks = vectorBlocks
    var outcome = ParseOutcome(output: Output())
    for (index, chunk) in chunks.enumerated() {
        do throws(EventStreamError) {
            try withBytes(chunk) { (bytes) throws(EventStreamError) in try parseChunk(index, bytes, &parser, &outcome.output) }
        } catch {
            outcome.error = error
            break
        }
        outcome.lastEventIds.append(parser.lastEventId)
        outcome.reconnectionTimes.append(parser.reconnectionTime)
    }
    parser.endOfStream()
    outcome.lastEventIds.append(parser.lastEventId)
    return outcome
}

/// `bytes` as a raw buffer, for a body that throws only `EventStreamError`.
func withBytes(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(EventStreamError) -> Void) throws(EventStreamError) {
    try bytes.withUnsafeBytes { raw in Result { () throws(EventStreamError) in try body(raw) } }.get()
}

@Suite("JSON string escaping")
struct JSONStringEscaperTests {
    /// The escaping spelled out scalar by scalar, for comparison.
    static func reference(_ bytes: [UInt8]) -> String {
        var text = "\""
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{8}": text += "\\b"
            case "\u{C}": text += "\\f"
            case let scalar where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    /// `bytes` escaped and quoted, by the sixteen-byte loop (where there is one) or by the word loop alone.
    static func escaped(_ bytes: [UInt8], usingVectors: Bool = true) -> String {
        var output = [UInt8](repeating: 0, count: JSONStringEscaper.maximumLength(of: bytes.count))
        let written = output.withUnsafeMutableBufferPointer { output in
            bytes.withUnsafeBufferPointer { bytes in
                guard let start = output.baseAddress else { return 0 }
                return start.distance(to: JSONStringEscaper.write(bytes, to: start, usingVectors: usingVectors))
            }
        }
        return "\"" + String(decoding: output[..<written], as: UTF8.self) + "\""
    }

    @Test("short strings (0 to 15 bytes) are copied whole when plain, and left to the loops otherwise")
    func plainShortStrings() {
        for count in 0..<16 {
            let plain = (0..<count).map { UInt8(ascii: "a") + UInt8($0) }
            var output = [UInt8](repeating: 0, count: 16)
            let copied = plain.withUnsafeBufferPointer { plain in
                output.withUnsafeMutableBufferPointer { output -> Int? in
                    guard let source = plain.baseAddress ?? UnsafePointer(output.baseAddress), let target = output.baseAddress else { return nil }
                    return JSONStringEscaper.copyPlainShort(source, count: count, to: target).map { target.distance(to: $0) }
                }
            }
            #expect(copied == count, "\(count) plain bytes")
            #expect(Array(output[..<count]) == plain)
            for position in 0..<count {
                for special: UInt8 in [UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x00, 0x1F, 0x80, 0xFF] {
                    var bytes = plain
                    bytes[position] = special
                    let refused = bytes.withUnsafeBufferPointer { bytes in
                        output.withUnsafeMutableBufferPointer { output in
                            guard let source = bytes.baseAddress, let target = output.baseAddress else { return false }
                            return JSONStringEscaper.copyPlainShort(source, count: count, to: target) == nil
                        }
                    }
                    #expect(refused, "byte \(special) at \(position) of \(count)")
                }
            }
        }
    }

    @Test("appendQuoted writes the quoted escape")
    func appendQuoted() {
        var output = Array("[".utf8)
        let bytes = Array("say \"hi\"\n".utf8) + [0xFF]
        bytes.withUnsafeBufferPointer { JSONStringEscaper.appendQuoted($0, to: &output) }
        #expect(String(decoding: output, as: UTF8.self) == "[" + Self.reference(bytes))
    }

    @Test("every single byte, at every position of a forty-byte string (vectors, words)", arguments: [true, false])
    func singleBytes(usingVectors: Bool) {
        for byte in UInt8.min...UInt8.max {
            for position in 0..<40 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 40)
                bytes[position] = byte
                #expect(Self.escaped(bytes, usingVectors: usingVectors) == Self.reference(bytes), "byte \(byte) at \(position)")
            }
        }
    }

    @Test(
        "random bytes, valid and ill-formed UTF-8 across word and vector boundaries, as String(decoding:) sees them",
        arguments: [true, false], 0..<4)
    func randomBytes(usingVectors: Bool, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let alphabet: [[UInt8]] = [
            Array("a\"\\\n\t ".utf8), Array("é€😀".utf8), [0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF],
            [0x00, 0x1F, 0x7F],
        ]
        for _ in 0..<2000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...80, using: &generator) {
                let group = alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]
                let byte = group[Int.random(in: 0..<group.count, using: &generator)]
                bytes.append(byte)
            }
            #expect(Self.escaped(bytes, usingVectors: usingVectors) == Self.reference(bytes), "bytes \(bytes)")
        }
    }

    @Test("random JSON-like text: runs of plain bytes with quotes and backslashes, now and then something else", arguments: 0..<4)
    func quoteDenseText(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let rare: [UInt8] = [0x00, 0x0A, 0x1F, 0x7F, 0xC3, 0xA9, 0xFF]
        for _ in 0..<2000 {
            let quoteChance = Int.random(in: 2...20, using: &generator)
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...120, using: &generator) {
                let roll = Int.random(in: 0..<100, using: &generator)
                if roll == 0 {
                    bytes.append(rare[Int.random(in: 0..<rare.count, using: &generator)])
                } else if roll <= quoteChance {
                    bytes.append(Bool.random(using: &generator) ? UInt8(ascii: "\"") : UInt8(ascii: "\\"))
                } else {
                    bytes.append(UInt8(ascii: "a") + UInt8(roll % 26))
                }
            }
            #expect(Self.escaped(bytes) == Self.reference(bytes), "bytes \(bytes)")
        }
    }

    @Test("write touches nothing past the room it promises, whatever it writes and however long", arguments: [true, false])
    func staysWithinRoom(usingVectors: Bool) {
        let fillers: [[UInt8]] = [
            [0x01], [UInt8(ascii: "\"")], [UInt8(ascii: "a")], [0xFF], Array("é".utf8), [0x01, UInt8(ascii: "a")],
            [UInt8(ascii: "\\"), UInt8(ascii: "a")],
        ]
        for filler in fillers {
            for count in 0..<80 {
                let bytes = (0..<count).map { filler[$0 % filler.count] }
                let room = JSONStringEscaper.maximumLength(of: count)
                let guardBytes = 16
                var buffer = [UInt8](repeating: 0xAA, count: room + guardBytes)
                let written = buffer.withUnsafeMutableBufferPointer { buffer in
                    bytes.withUnsafeBufferPointer { bytes in
                        guard let start = buffer.baseAddress else { return 0 }
                        return start.distance(to: JSONStringEscaper.write(bytes, to: start, usingVectors: usingVectors))
                    }
                }
                #expect(buffer[room...].allSatisfy { $0 == 0xAA }, "\(count) × \(filler) wrote past the room")
                #expect("\"" + String(decoding: buffer[..<written], as: UTF8.self) + "\"" == Self.reference(bytes))
            }
        }
    }
}

/// `parse(_:borrowingEvents:)` against the materialised form: the same events (type, data, last
/// event id), the same state after each chunk, the same error, for any bytes, chunking and limits.
@Suite("Parsing to borrowed events")
struct BorrowedEventFormTests {
    /// Parses `chunks` to events: borrowed from a parser of the bytes form, or materialised; with
    /// `alternating`, the bytes form takes turns between borrowed events and JSON lines (its two uses).
    static func parse(
        _ chunks: [[UInt8]], limits: EventStreamParser.Limits, comments: Bool, borrowed: Bool, alternating: Bool = false
    ) -> ParseOutcome<[[String]]> {
        feed(chunks, form: borrowed ? .bytes : .events, limits: limits, comments: comments, lastEventId: "7") {
            (index, bytes, parser, events) throws(EventStreamError) in
            if borrowed, alternating, index % 2 == 1 {
                // The lines written before an error count too, as in the other forms.
                var lines: [UInt8] = []
                defer {
                    for line in String(decoding: lines, as: UTF8.self).split(separator: "\n") {
                        guard case .event(let event) = try? EventStreamParser.Output(jsonLine: String(line)) else { continue }
                        events.append([event.type, event.data, event.id ?? ""])
                    }
                }
                try parser.parse(bytes, appendingJSONLinesTo: &lines)
            } else if borrowed {
                try parser.parse(bytes) { (event: EventStreamParser.BorrowedEvent) in
                    events.append([event.type, event.data, event.lastEventId].map { String(decoding: $0, as: UTF8.self) })
                }
            } else {
                try parser.parse(bytes) { output in
                    guard case .event(let event) = output else { return }
                    events.append([event.type, event.data, event.id ?? ""])
                }
            }
        }
    }

    @Test("random streams, random chunks: borrowed events are the materialised ones", arguments: 0..<8)
    func randomStreams(seed: UInt64) {
        JSONLineFormTests.forEachRandomCase(seed: seed) { stream, chunks, limits, comments, generator in
            let materialised = Self.parse(chunks, limits: limits, comments: comments, borrowed: false)
            let borrowed = Self.parse(chunks, limits: limits, comments: comments, borrowed: true)
            #expect(borrowed == materialised, "stream \(String(decoding: stream, as: UTF8.self).debugDescription)")
            let alternating = Self.parse(chunks, limits: limits, comments: comments, borrowed: true, alternating: true)
            #expect(
                alternating == materialised,
                "borrowed events and JSON lines in turns, stream \(String(decoding: stream, as: UTF8.self).debugDescription)")
        }
    }

    @Test("an event split over one-byte chunks arrives whole, with the default type and the id in force")
    func oneByteChunks() throws {
        let stream = Array("id: 3\ndata: {\"seq\":1}\n\nevent: tick\ndata: a\ndata: b\n\n".utf8)
        var parser = EventStreamParser(form: .bytes)
        var events: [[String]] = []
        for byte in stream {
            try withBytes([byte]) { (bytes) throws(EventStreamError) in
                try parser.parse(bytes) { (event: EventStreamParser.BorrowedEvent) in
                    events.append([event.type, event.data, event.lastEventId].map { String(decoding: $0, as: UTF8.self) })
                }
            }
        }
        #expect(events == [["message", "{\"seq\":1}", "3"], ["tick", "a\nb", "3"]])
    }
}
