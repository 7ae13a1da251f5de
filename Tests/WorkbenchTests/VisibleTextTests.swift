import EventStream
import SSEClient
import Testing

@testable import Workbench

@Suite("Text from others is shown, never obeyed, at a terminal")
struct VisibleTextTests {
    @Test("control characters other than tab become escapes; other text, emoji included, is unchanged")
    func escapes() {
        #expect("plain\ttext é 😀".visibleOnTerminal == "plain\ttext é 😀")
        #expect("a\u{1B}[31mred\u{07}".visibleOnTerminal == #"a\u{1B}[31mred\u{7}"#)
        #expect("\u{0}\u{7F}\u{9B}2J".visibleOnTerminal == #"\u{0}\u{7F}\u{9B}2J"#)
        #expect("x\u{1B}y".visibleOnTerminal.visibleOnTerminal == "x\u{1B}y".visibleOnTerminal)
    }

    @Test("bidirectional controls become escapes, so a server cannot reorder the terminal line (15.29); other text is kept")
    func bidiControls() {
        #expect("abc\u{202E}fed".visibleOnTerminal == #"abc\u{202E}fed"#)
        #expect("\u{2066}x\u{2069}\u{200F}\u{061C}".visibleOnTerminal == #"\u{2066}x\u{2069}\u{200F}\u{61C}"#)
        #expect("“quoted” — عربى €".visibleOnTerminal == "“quoted” — عربى €")
    }

    @Test("event data, types, ids and comments print escaped in text mode; JSON mode escapes by JSON's rules")
    func clientOutput() {
        let event = ClientEvent.event(ServerSentEvent(type: "t\u{1B}]0;title\u{07}", data: "\u{1B}[2Jgone", id: "\u{1B}c"))
        let text = ClientOutputStyle().lines(for: event)
        #expect(text == [#"t\u{1B}]0;title\u{7} id=\u{1B}c: \u{1B}[2Jgone"#])
        #expect(ClientOutputStyle(comments: true).lines(for: .comment("\u{1B}[5m")) == [#": \u{1B}[5m"#])
        let json = ClientOutputStyle(json: true).lines(for: event)
        #expect(json.allSatisfy { !$0.unicodeScalars.contains { $0.value < 0x20 } })
    }
}
