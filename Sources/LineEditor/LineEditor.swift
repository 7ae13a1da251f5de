import CLibEdit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A libedit line editor on the process's terminal: prompt, emacs key bindings, and history kept
/// in a file.
///
/// Invariant: one instance per process owns the terminal; it is used from one thread at a time
/// (`readLine` blocks). The REPL issue builds the asynchronous reader and completion on top of it.
public final class LineEditor {
    private let editor: OpaquePointer
    private let history: OpaquePointer
    private let historyPath: String?
    /// The prompt as a C string owned by this editor; libedit reads it while `el_gets` runs.
    private var promptText: UnsafeMutablePointer<CChar>? = strdup("")

    /// Opens the editor on standard input/output; loads `historyPath` when given and readable.
    public init?(program: String, historyPath: String?) {
        guard let editor = drip_el_init_stdio(program) else { return nil }
        guard let history = history_init() else {
            el_end(editor)
            return nil
        }
        self.editor = editor
        self.history = history
        self.historyPath = historyPath
        _ = drip_history_set_size(history, 1000)
        _ = drip_history_set_unique(history, 1)
        _ = drip_el_set_editor(editor, "emacs")
        _ = drip_el_set_history(editor, history)
        if let historyPath { _ = drip_history_load(history, historyPath) }
        _ = drip_el_set_clientdata(editor, Unmanaged.passUnretained(self).toOpaque())
        _ = drip_el_set_prompt(editor) { editor in
            guard let editor, let context = drip_el_get_clientdata(editor) else { return nil }
            let lineEditor = Unmanaged<LineEditor>.fromOpaque(context).takeUnretainedValue()
            return lineEditor.promptText
        }
    }

    deinit {
        el_end(editor)
        history_end(history)
        free(promptText)
    }

    /// Shows `prompt` and returns the line typed without its newline, or nil at end of input.
    public func readLine(prompt: String) -> String? {
        free(promptText)
        promptText = strdup(prompt)
        var count: Int32 = 0
        guard let line = el_gets(editor, &count), count > 0 else { return nil }
        var text = String(cString: line)
        if text.hasSuffix("\n") { text.removeLast() }
        if !text.trimmingSpaces.isEmpty {
            _ = drip_history_enter(history, text)
            if let historyPath { _ = drip_history_save(history, historyPath) }
        }
        return text
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        drop { $0 == " " || $0 == "\t" }
    }
}
