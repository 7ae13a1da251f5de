import EventStream
import Testing

/// What a splitter made of a stream cut into chunks: the blocks it ended (gathered from their
/// pieces), whether each began with the LF of a split CRLF, and the bytes of the unfinished block.
private struct Split: Equatable {
    var blocks: [[UInt8]] = []
    var leadingLineFeeds: [Bool] = []
    var pending: [UInt8] = []
    var pieces = 0
}

private func split(_ chunks: [[UInt8]]) -> Split {
    var splitter = EventBlockSplitter()
    var result = Split()
    var leadingLineFeed: Bool?
    for chunk in chunks {
        chunk.withUnsafeBytes { bytes in
            splitter.split(bytes) { piece in
                result.pieces += 1
                if leadingLineFeed == nil { leadingLineFeed = piece.startsWithLineFeed }
                result.pending += Array(piece.bytes)
                if piece.endsBlock {
                    result.blocks.append(result.pending)
                    result.leadingLineFeeds.append(leadingLineFeed ?? false)
                    result.pending = []
                    leadingLineFeed = nil
                }
            }
        }
    }
    return result
}

private func events(_ bytes: [[UInt8]]) -> [EventStreamParser.Output] {
    var parser = EventStreamParser(reportsComments: true)
    var outputs: [EventStreamParser.Output] = []
    for chunk in bytes { try? parser.parse(chunk) { outputs.append($0) } }
    return outputs
}

@Suite("Event block splitter")
struct BlockSplitterTests {
    @Test("blocks end at blank lines, with every kind of line end, and keep their bytes")
    func blocksEndAtBlankLines() {
        let stream = Array("data: a\n\n: note\nid: 2\r\ndata: b\r\n\r\nevent: x\rdata: c\r\rdata: tail".utf8)
        let result = split([stream])
        #expect(
            result.blocks.map { String(decoding: $0, as: UTF8.self) } == ["data: a\n\n", ": note\nid: 2\r\ndata: b\r\n\r\n", "event: x\rdata: c\r\r"])
        #expect(result.pending == Array("data: tail".utf8))
        #expect(result.leadingLineFeeds == [false, false, false])
    }

    @Test("a CRLF cut between its CR and LF: the LF opens the next block, which says so")
    func crlfAcrossReads() {
        let result = split([Array("data: a\r\n\r".utf8), Array("\ndata: b\r\n\r\n".utf8)])
        #expect(result.blocks == [Array("data: a\r\n\r".utf8), Array("\ndata: b\r\n\r\n".utf8)])
        #expect(result.leadingLineFeeds == [false, true])
        // The LF that completes a CRLF is not a blank line of its own: no empty block before "data: b".
        #expect(events(result.blocks) == events([Array("data: a\r\n\r\ndata: b\r\n\r\n".utf8)]))
    }

    @Test("at every split point of random streams, blocks plus the rest are the input, and parse as it does")
    func everySplitPoint() {
        var generator = SeededGenerator(seed: 17)
        let pieces = ["data: x", "data:y", "id: 7", "event: e", "retry: 10", ": c", "", "\u{FEFF}", "d"]
        let ends = ["\n", "\r", "\r\n"]
        for _ in 0..<200 {
            var stream: [UInt8] = []
            for _ in 0..<Int.random(in: 1...12, using: &generator) {
                stream += Array((pieces.randomElement(using: &generator) ?? "").utf8)
                stream += Array((ends.randomElement(using: &generator) ?? "\n").utf8)
            }
            let whole = split([stream])
            #expect(whole.blocks.flatMap { $0 } + whole.pending == stream)
            for cut in 0...stream.count {
                let parts = split([Array(stream[..<cut]), Array(stream[cut...])])
                #expect(parts.blocks.flatMap { $0 } + parts.pending == stream, "cut at \(cut)")
                #expect(events(parts.blocks + [parts.pending]) == events([stream]), "cut at \(cut)")
                #expect(parts.blocks.count == whole.blocks.count, "cut at \(cut)")
            }
        }
    }

    @Test("a read with no blank line is one piece, handed out at once")
    func partialBlocksPassAtOnce() {
        let result = split([Array("data: partial".utf8), Array(" line\n".utf8), Array("\n".utf8)])
        #expect(result.pieces == 3)
        #expect(result.blocks == [Array("data: partial line\n\n".utf8)])
    }
}
