import Testing

@testable import EventStream

@Suite("Text shown safely at a terminal")
struct TerminalTextTests {
    /// The rule spelled out scalar by scalar on the decoded text, for comparison.
    static func reference(_ bytes: [UInt8]) -> String {
        let bidiControls: Set<UInt32> = [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
        var result = ""
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            let value = scalar.value
            if value < 0x20 && value != 0x09 || (0x7F...0x9F).contains(value) || bidiControls.contains(value) {
                result += "\\u{" + String(value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func escaped(_ bytes: [UInt8]) -> String {
        var output = [UInt8](repeating: 0, count: TerminalText.maximumLength(of: bytes.count))
        let written = output.withUnsafeMutableBufferPointer { output in
            bytes.withUnsafeBufferPointer { bytes in
                guard let start = output.baseAddress else { return 0 }
                return start.distance(to: TerminalText.write(bytes, to: start))
            }
        }
        return String(decoding: output[..<written], as: UTF8.self)
    }

    /// Bytes to build inputs from: plain ASCII, tab, every kind of control, C1 and bidirectional
    /// controls, their harmless neighbours, other UTF-8 and ill-formed sequences.
    static let pieces: [[UInt8]] =
        [
            "a", "plain text ", "\t", "\u{0}", "\u{1B}", "\u{1F}", "\u{7F}", "\u{80}", "\u{9B}", "\u{9F}", "\u{A0}", "é", "\u{61C}", "\u{61B}",
            "\u{200D}", "\u{200E}", "\u{200F}", "\u{202A}", "\u{202E}", "\u{202F}", "\u{2066}", "\u{2069}", "\u{206A}", "€", "😀", "中",
        ]
        .map { Array($0.utf8) } + [[0x80], [0xC2], [0xE2, 0x80], [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xFF]]

    @Test("random bytes: escaping them gives the reference escaping of their decoded text", arguments: 0..<4)
    func randomBytes(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<500 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...40, using: &generator) { bytes += Self.pieces[Int.random(in: 0..<Self.pieces.count, using: &generator)] }
            #expect(Self.escaped(bytes) == Self.reference(bytes), "\(bytes)")
        }
    }

    @Test("one special byte at every position of plain runs of every length is found (vector, word and byte loops)")
    func everyPosition() {
        for count in 1..<40 {
            for position in 0..<count {
                for special: [UInt8] in [[0x1B], [0x7F], [0x09], [0xC2, 0x9B], [0xC3, 0xA9], [0xFF]] {
                    let bytes =
                        Array(repeating: UInt8(ascii: "x"), count: position) + special + Array(repeating: UInt8(ascii: "y"), count: count - position)
                    #expect(Self.escaped(bytes) == Self.reference(bytes), "\(special) at \(position) of \(count)")
                }
            }
        }
    }

    @Test("strings: escapes as shown, plain text untouched")
    func strings() {
        #expect(TerminalText.visible("plain\ttext é 😀") == "plain\ttext é 😀")
        #expect(TerminalText.visible("a\u{1B}[31mred\u{07}") == #"a\u{1B}[31mred\u{7}"#)
        #expect(TerminalText.visible("\u{0}\u{7F}\u{9B}2J\u{61C}") == #"\u{0}\u{7F}\u{9B}2J\u{61C}"#)
        #expect(TerminalText.visible("") == "")
    }
}
