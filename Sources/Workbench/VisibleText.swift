import EventStream

extension String {
    /// This text with every control character other than tab shown as an escape (`\u{1B}`), so that
    /// what a server, a script or a typist sent can be printed to a terminal without driving it:
    /// no colour changes, cursor moves, title changes or bells from someone else's bytes. C0, DEL
    /// and C1 characters and the bidirectional controls are escaped; everything else is kept
    /// (`TerminalText`, which `drip connect`'s text lines are written with too).
    var visibleOnTerminal: String { TerminalText.visible(self) }
}
