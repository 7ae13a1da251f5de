import Testing

@testable import EventStream

/// `SimpleBlocks`, the line forms' one-pass path for the commonest block, against the
/// materialised form: streams made mostly of blocks of that shape, with every way a block can fall
/// just outside it, cut into chunks large enough for the path to run.
@Suite("The line forms' fast path for simple blocks")
struct SimpleBlocksTests {
    static let ids = ["", "id: 42", "id:7", "id:", "id: 0123456789abcde", "id: 0123456789abcdef", "id: a\"b", "id: 1\u{0}2", "id: \u{E9}", "id"]
    static let types = ["", "event: update", "event:", "event: x\\y", "event: 0123456789abcdefg", "event", "event: \u{1B}"]
    static let dataBytes: [[UInt8]] =
        ["a", "b", "x", "0", ":", "{", "}", " ", "\"", "\"", "\\", ",", "\t", "\u{1}", "\u{E9}", "\u{1F600}", "\u{7F}"].map { Array($0.utf8) }
        + [[0xFF], [0xC3], [0x0D]]

    /// A block: mostly the simple shape (plain data with quotes), now and then something else.
    static func randomBlock(using generator: inout SeededGenerator) -> [UInt8] {
        func oneIn(_ n: Int) -> Bool { Int.random(in: 0..<n, using: &generator) == 0 }
        var lines: [[UInt8]] = []
        let id = oneIn(3) ? ids[Int.random(in: 0..<ids.count, using: &generator)] : ids[Int.random(in: 0...2, using: &generator)]
        let type = oneIn(3) ? types[Int.random(in: 0..<types.count, using: &generator)] : types[Int.random(in: 0...1, using: &generator)]
        for line in [id, type] where !line.isEmpty { lines.append(Array(line.utf8)) }
        if Bool.random(using: &generator) { lines.reverse() }
        if oneIn(12), let first = lines.first { lines.append(first) }
        var data: [UInt8] = []
        let length = oneIn(4) ? Int.random(in: 0...200, using: &generator) : Int.random(in: 0...60, using: &generator)
        let plain = !oneIn(4)
        while data.count < length {
            let piece = dataBytes[Int.random(in: 0..<(plain ? 11 : dataBytes.count), using: &generator)]
            data += piece
        }
        let spelling = oneIn(10) ? (oneIn(2) ? "data" : "data:") : "data: "
        lines.append(Array(spelling.utf8) + data)
        if oneIn(10) { lines.append(Array("data: second".utf8)) }
        if oneIn(12) { lines.insert(Array(": note".utf8), at: Int.random(in: 0...lines.count, using: &generator)) }
        if oneIn(12) { lines.append(Array("id: after".utf8)) }
        let ends = ["\n", "\n", "\n", "\n", "\n", "\n", "\r\n", "\r"]
        let end = Array(ends[Int.random(in: 0..<ends.count, using: &generator)].utf8)
        return lines.flatMap { $0 + end } + (oneIn(15) ? [] : end)
    }

    @Test("random simple-ish blocks in large random chunks: the JSON and text forms write what the materialised form prints", arguments: 0..<6)
    func randomBlocks(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<60 {
            var stream: [UInt8] = []
            for _ in 0..<Int.random(in: 1...120, using: &generator) { stream += Self.randomBlock(using: &generator) }
            var chunks: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                let end = min(stream.count, offset + Int.random(in: 1...3000, using: &generator))
                chunks.append(Array(stream[offset..<end]))
                offset = end
            }
            let limits =
                Bool.random(using: &generator)
                ? EventStreamParser.Limits()
                : EventStreamParser.Limits(
                    maxLineLength: Int.random(in: 4...120, using: &generator), maxEventSize: Int.random(in: 4...150, using: &generator))
            for form in [EventStreamParser.LineForm.json, .text] {
                let lastEventId = Bool.random(using: &generator) ? "7" : ""
                let materialised = JSONLineFormTests.parse(
                    chunks, limits: limits, comments: false, lastEventId: lastEventId, form: form, direct: false)
                // With VectorBlocks first (where this processor has it), and with SimpleBlocks alone.
                for vectorBlocks in [true, false] {
                    let direct = JSONLineFormTests.parse(
                        chunks, limits: limits, comments: false, lastEventId: lastEventId, form: form, direct: true, vectorBlocks: vectorBlocks)
                    #expect(
                        direct == materialised,
                        "\(form), vector blocks \(vectorBlocks), of stream \(String(decoding: stream, as: UTF8.self).debugDescription)")
                }
            }
        }
    }

    /// Runs a fast path (`write`, given the input, the progress, the output end and its limit) once
    /// over `stream`, with `room` bytes to write into and `lastEventId` in force.
    static func runFastPath(
        _ stream: [UInt8], room: Int, lastEventId: [UInt8] = [],
        _ write: (UnsafeBufferPointer<UInt8>, inout FastBlockProgress, inout UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt8>) -> Bool
    ) -> (progress: FastBlockProgress, needsRoom: Bool, written: [UInt8]) {
        var output = [UInt8](repeating: 0, count: room)
        var needsRoom = false
        var written = 0
        var progress = FastBlockProgress(position: 0, lastEventId: .init(start: nil, count: 0))
        lastEventId.withUnsafeBufferPointer { lastEventId in
            progress.lastEventId = lastEventId
            stream.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { output in
                    guard let start = output.baseAddress else { return }
                    var end = start
                    needsRoom = write(input, &progress, &end, start + output.count)
                    written = start.distance(to: end)
                }
            }
        }
        // The id's bytes are gone once the call returns.
        progress.lastEventId = .init(start: nil, count: 0)
        return (progress, needsRoom, Array(output[..<written]))
    }

    #if arch(x86_64)
        /// Runs `SimpleBlocks` once over `stream` in `form`, with `room` bytes to write into.
        static func runOnce<Form: SimpleBlockForm>(
            _ form: Form.Type, _ stream: [UInt8], room: Int
        ) -> (progress: FastBlockProgress, needsRoom: Bool, written: [UInt8]) {
            runFastPath(stream, room: room) { input, progress, end, limit in
                SimpleBlocks.write(form, input, &progress, output: &end, outputLimit: limit, limits: .init())
            }
        }

        @Test("the path takes every simple block but those in the last 64 bytes, and stops at the first other one")
        func takesSimpleBlocks() {
            let block = Array("id: 12\nevent: update\ndata: {\"seq\":12,\"payload\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n\n".utf8)
            let other = Array("data: one\ndata: two\n\n".utf8)
            let stream = Array(repeatElement(block, count: 10).joined()) + other + block + block
            let json = Self.runOnce(JSONBlockForm.self, stream, room: 16 << 10)
            let text = Self.runOnce(TextBlockForm.self, stream, room: 16 << 10)
            for run in [json, text] {
                #expect(!run.needsRoom)
                #expect(run.progress.position == 10 * block.count)
                #expect(run.progress.lines == 40)
                #expect(run.progress.sawId)
            }
            let jsonLine = #"{"type":"update","data":"{\"seq\":12,\"payload\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}","lastEventId":"12"}"# + "\n"
            #expect(json.written == Array(String(repeating: jsonLine, count: 10).utf8))
            let textLine = #"update id=12: {"seq":12,"payload":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"# + "\n"
            #expect(text.written == Array(String(repeating: textLine, count: 10).utf8))
        }

        @Test("CRLF line ends: no block is taken, and it says it met a CR so that the chunk's other blocks skip it")
        func carriageReturns() {
            for block in ["id: 1\r\ndata: x\r\n\r\n", "data: \(String(repeating: "y", count: 40))\r\n\r\n"] {
                let run = Self.runOnce(JSONBlockForm.self, Array(String(repeating: block, count: 8).utf8), room: 4096)
                #expect(run.progress.position == 0 && run.written.isEmpty)
                #expect(run.progress.metCarriageReturn, "\(block.debugDescription)")
            }
            let other = Self.runOnce(JSONBlockForm.self, Array(String(repeating: "data: one\ndata: two\n\n", count: 8).utf8), room: 4096)
            #expect(!other.progress.metCarriageReturn)
        }

        @Test("with too little room it writes nothing of the block and asks for more")
        func asksForRoom() {
            let stream = Array(String(repeating: "data: \(String(repeating: "\"", count: 40))\n\n", count: 4).utf8)
            let run = Self.runOnce(JSONBlockForm.self, stream, room: 200)
            #expect(run.needsRoom)
            #expect(run.progress.position == 0 && run.written.isEmpty)
        }
    #endif
}
