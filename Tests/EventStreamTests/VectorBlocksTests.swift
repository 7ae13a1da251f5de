import Testing

@testable import EventStream

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `VectorBlocks`, the AVX-512 kernel for the commonest block, on its own (where this processor has
/// it), and both fast paths at the edge of readable memory.
@Suite("The line forms' vector kernel for simple blocks")
struct VectorBlocksTests {
    /// Runs the kernel once over `stream` in `form`, with `room` bytes to write into.
    static func runOnce(
        _ form: EventStreamParser.LineForm, _ stream: [UInt8], room: Int, lastEventId: [UInt8] = []
    ) -> (progress: FastBlockProgress, needsRoom: Bool, written: [UInt8]) {
        SimpleBlocksTests.runFastPath(stream, room: room, lastEventId: lastEventId) { input, progress, end, limit in
            VectorBlocks.write(form, input, &progress, output: &end, outputLimit: limit, limits: .init()).needsRoom
        }
    }

    static let block = Array("id: 12\nevent: update\ndata: {\"seq\":12,\"payload\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n\n".utf8)
    static let jsonLine = #"{"type":"update","data":"{\"seq\":12,\"payload\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}","lastEventId":"12"}"# + "\n"
    static let textLine = #"update id=12: {"seq":12,"payload":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"# + "\n"

    @Test(
        "it takes every simple block with 128 bytes of the chunk from its start, and stops at the first other one",
        .enabled(if: VectorBlocks.isAvailable, "this processor lacks AVX-512 VBMI2; the Swift path is tested on its own elsewhere"))
    func takesSimpleBlocks() {
        let other = Array("data: one\ndata: two\n\n".utf8)
        let stream = Array(repeatElement(Self.block, count: 10).joined()) + other + Array(repeatElement(Self.block, count: 3).joined())
        let json = Self.runOnce(.json, stream, room: 16 << 10)
        let text = Self.runOnce(.text, stream, room: 16 << 10)
        for run in [json, text] {
            #expect(!run.needsRoom)
            #expect(run.progress.position == 10 * Self.block.count)
            #expect(run.progress.lines == 40)
            #expect(run.progress.sawId)
        }
        #expect(json.written == Array(String(repeating: Self.jsonLine, count: 10).utf8))
        #expect(text.written == Array(String(repeating: Self.textLine, count: 10).utf8))
        // The last block of a chunk, with fewer than 128 bytes from its start, is left alone.
        let tail = Self.runOnce(.json, Array(repeatElement(Self.block, count: 3).joined()), room: 4096)
        #expect(tail.progress.position == 2 * Self.block.count)
    }

    @Test(
        "a long data line, a kept last event id, an empty type and an event with no id: all as LineSink writes them",
        .enabled(if: VectorBlocks.isAvailable, "this processor lacks AVX-512 VBMI2"))
    func shapes() {
        let long = "data: " + String(repeating: "ab\"\\c", count: 60) + "\n\n"
        let stream = Array((long + "event:\ndata: x\n\n" + "id\ndata: y\n\n" + String(repeating: "data: z\n\n", count: 20)).utf8)
        let json = Self.runOnce(.json, stream, room: 16 << 10, lastEventId: Array("41".utf8))
        let escaped = String(repeating: #"ab\"\\c"#, count: 60)
        var expected = #"{"type":"message","data":"\#(escaped)","lastEventId":"41"}"# + "\n"
        expected += #"{"type":"message","data":"x","lastEventId":"41"}"# + "\n"
        // `id` without a colon is a field named "id" with an empty value: the last event id is reset.
        #expect(json.written.starts(with: Array(expected.utf8)))
        let text = Self.runOnce(.text, stream, room: 16 << 10, lastEventId: Array("41".utf8))
        let textExpected = "message id=41: " + String(repeating: #"ab"\c"#, count: 60) + "\n" + "message id=41: x\n"
        #expect(text.written.starts(with: Array(textExpected.utf8)))
    }

    @Test(
        "a block laid out as the last one is read from that; a new type, a different id or a byte it may not take is seen",
        .enabled(if: VectorBlocks.isAvailable, "this processor lacks AVX-512 VBMI2"))
    func repeatedLayout() {
        func block(_ id: String, _ type: String) -> String { "id: \(id)\nevent: \(type)\ndata: {\"n\":\"\(id)\"}\n\n" }
        let padding = String(repeating: "data: pad\n\n", count: 12)
        let stream = [
            block("1", "a"), block("22", "a"), block("333", "bb"), "id: 6\nevent:bb\ndata: y\n\n", block("4", "bb"), "id:5\nevent: bb\ndata: x\n\n",
        ]
        .joined()
        let json = Self.runOnce(.json, Array((stream + block("7\"", "bb") + padding).utf8), room: 16 << 10)
        var expected = ""
        for (id, type) in [("1", "a"), ("22", "a"), ("333", "bb")] {
            expected += #"{"type":"\#(type)","data":"{\"n\":\"\#(id)\"}","lastEventId":"\#(id)"}"# + "\n"
        }
        expected += #"{"type":"bb","data":"y","lastEventId":"6"}"# + "\n"
        expected += #"{"type":"bb","data":"{\"n\":\"4\"}","lastEventId":"4"}"# + "\n" + #"{"type":"bb","data":"x","lastEventId":"5"}"# + "\n"
        #expect(String(decoding: json.written, as: UTF8.self) == expected)
        // The block whose id holds a quote has the last one's event line, and is still left to the Swift path.
        #expect(json.progress.position == stream.utf8.count)
        let text = Self.runOnce(.text, Array((stream + padding).utf8), room: 16 << 10)
        #expect(String(decoding: text.written, as: UTF8.self).hasPrefix("a id=1: {\"n\":\"1\"}\na id=22: {\"n\":\"22\"}\nbb id=333: "))
    }

    @Test(
        "with too little room it writes nothing of the block and asks for more",
        .enabled(if: VectorBlocks.isAvailable, "this processor lacks AVX-512 VBMI2"))
    func asksForRoom() {
        let stream = Array(String(repeating: "data: \(String(repeating: "\"", count: 40))\n\n", count: 8).utf8)
        let run = Self.runOnce(.json, stream, room: 200)
        #expect(run.needsRoom)
        #expect(run.progress.position == 0 && run.written.isEmpty)
    }

    /// `bytes` placed so that they end where a page that cannot be read begins (and start just after
    /// another): a read outside them stops the test process.
    static func withGuardedBytes(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> Void) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (bytes.count + page - 1) / page
        let size = (pages + 2) * page
        let mapping = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapping, mapping != UnsafeMutableRawPointer(bitPattern: -1) else {
            Issue.record("mmap failed")
            return
        }
        defer { munmap(mapping, size) }
        #expect(mprotect(mapping, page, PROT_NONE) == 0)
        #expect(mprotect(mapping + (pages + 1) * page, page, PROT_NONE) == 0)
        let start = mapping + (pages + 1) * page - bytes.count
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { start.copyMemory(from: base, byteCount: bytes.count) }
        }
        body(UnsafeRawBufferPointer(start: start, count: bytes.count))
    }

    @Test("neither fast path reads a byte past a chunk that ends at unreadable memory, whatever its last blocks", arguments: 0..<4)
    func staysInsideTheChunk(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        for round in 0..<150 {
            var stream: [UInt8] = []
            for _ in 0..<Int.random(in: 1...40, using: &generator) {
                stream += round % 3 == 0 ? Self.block : SimpleBlocksTests.randomBlock(using: &generator)
            }
            // Cut so that the chunk ends anywhere in its last blocks, a blank line included.
            stream.removeLast(Int.random(in: 0...min(40, stream.count - 1), using: &generator))
            for form in [EventStreamParser.LineForm.json, .text] {
                var outputs: [[UInt8]] = []
                for vectorBlocks in [true, false] {
                    var lines: [UInt8] = []
                    Self.withGuardedBytes(stream) { chunk in
                        var parser = EventStreamParser(form: .bytes)
                        parser.usesVectorBlocks = vectorBlocks
                        try? parser.parse(chunk, appending: form, to: &lines)
                    }
                    outputs.append(lines)
                }
                #expect(outputs[0] == outputs[1], "\(form) of \(String(decoding: stream, as: UTF8.self).debugDescription)")
            }
        }
    }
}
