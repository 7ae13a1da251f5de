import CLibEdit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A libedit line editor on the process's terminal: prompt, emacs key bindings, history kept in a
/// file, and a wake-up descriptor so that other threads can have output printed above the line
/// being edited (which is then redrawn intact) or the line discarded (Ctrl-C).
///
/// Invariant: one instance per process owns the terminal; it is used only on the thread that
/// created it (`readLine` blocks there, and the wake-up work runs there inside libedit's read).
public final class LineEditor {
    /// What a wake-up asks for.
    public enum WakeAction {
        /// Output was printed over the line: redraw the prompt and the line.
        case redraw
        /// Discard the line being edited (Ctrl-C).
        case discardLine
        /// Nothing was printed (an earlier wake-up already took care of it).
        case nothing
    }

    private let editor: OpaquePointer
    private let history: OpaquePointer
    private let historyPath: String?
    private let wakeDescriptor: Int32
    private let onWake: (UInt8) -> WakeAction
    /// Tab completion: given the text before the cursor, the candidates for the word being typed
    /// (whole words; a candidate ending in `=` or `/` gets no space after it).
    public var completer: ((String) -> [String])?
    /// What a candidate means (given it and the text before the cursor); a listing with meanings
    /// shows one candidate per line.
    public var describer: ((String, String) -> String?)?
    private var discarded = false
    /// True when the last `readLine` returned because Ctrl-C discarded an empty line.
    public private(set) var interruptedEmptyLine = false
    /// The prompt as a C string owned by this editor; libedit reads it while `el_gets` runs.
    private var promptText: UnsafeMutablePointer<CChar>? = strdup("")

    /// Opens the editor on standard input/output; loads `historyPath` when given and readable.
    /// A byte written to `wakeDescriptor` while a line is edited calls `onWake` on this thread.
    public init?(program: String, historyPath: String?, wakeDescriptor: Int32 = -1, onWake: @escaping (UInt8) -> WakeAction = { _ in .redraw }) {
        // libedit decodes the prompt and the keys typed with the C library's multibyte functions: in
        // the "C" locale a program starts in, a prompt with "…" decodes to nothing and libedit
        // dereferences it. Take the character set from the environment (LANG, LC_*), as a shell does.
        _ = setlocale(LC_CTYPE, "")
        guard let editor = drip_el_init_stdio(program) else { return nil }
        guard let history = history_init() else {
            el_end(editor)
            return nil
        }
        self.editor = editor
        self.history = history
        self.historyPath = historyPath
        self.wakeDescriptor = wakeDescriptor
        self.onWake = onWake
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
        _ = drip_el_bind_function(
            editor, "drip-complete", "complete the word",
            { editor, _ in
                guard let editor, let context = drip_el_get_clientdata(editor) else { return UInt8(CC_ERROR) }
                return Unmanaged<LineEditor>.fromOpaque(context).takeUnretainedValue().complete()
            }, "^I")
        _ = drip_el_set_getcfn(editor) { editor, character in
            guard let editor, let character, let context = drip_el_get_clientdata(editor) else { return -1 }
            return Unmanaged<LineEditor>.fromOpaque(context).takeUnretainedValue().readCharacter(into: character)
        }
    }

    /// Completes the word before the cursor: the whole candidate when there is one, the longest
    /// common prefix otherwise, and the list of candidates when that adds nothing.
    private func complete() -> UInt8 {
        guard let completer, let info = el_line(editor)?.pointee, let buffer = info.buffer, let cursor = info.cursor else { return UInt8(CC_ERROR) }
        let length = buffer.distance(to: cursor)
        let before = String(
            decoding: UnsafeBufferPointer(start: UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: length), as: UTF8.self)
        let word = String(before.reversed().prefix { $0 != " " }.reversed())
        let candidates = completer(before)
        guard !candidates.isEmpty else { return UInt8(CC_REFRESH_BEEP) }
        var common = candidates[0]
        for candidate in candidates.dropFirst() {
            common = String(zip(common, candidate).prefix { $0 == $1 }.map(\.0))
        }
        if candidates.count == 1, !(common.hasSuffix("=") || common.hasSuffix("/")) { common += " " }
        if common.count > word.count {
            _ = el_insertstr(editor, String(common.dropFirst(word.count)))
            return UInt8(CC_REFRESH)
        }
        var listing = "\n"
        let meanings = candidates.map { describer?($0, before) }
        if meanings.contains(where: { $0 != nil }) {
            let width = candidates.map(\.count).max() ?? 0
            for (candidate, meaning) in zip(candidates, meanings) {
                listing += candidate + String(repeating: " ", count: width - candidate.count) + "  " + (meaning ?? "") + "\n"
            }
        } else {
            for candidate in candidates { listing += candidate + "  " }
            listing += "\n"
        }
        _ = listing.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
        return UInt8(CC_REDISPLAY)
    }

    /// Writes the history to a file of its own, then renames it over `path`: two drips leaving at
    /// once each leave a whole file, never a mix of both.
    private func saveHistory(to path: String) {
        let temporary = "\(path).\(getpid()).tmp"
        guard drip_history_save(history, temporary) >= 0 else {
            unlink(temporary)
            return
        }
        if rename(temporary, path) != 0 { unlink(temporary) }
    }

    /// libedit's character source: waits for the terminal or a wake-up, and decodes UTF-8.
    private func readCharacter(into character: UnsafeMutablePointer<wchar_t>) -> Int32 {
        while true {
            var descriptors = [
                pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, wakeDescriptor >= 0 ? 2 : 1, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return -1
            }
            if wakeDescriptor >= 0, descriptors[1].revents & Int16(POLLIN) != 0 {
                var byte: UInt8 = 0
                guard read(wakeDescriptor, &byte, 1) == 1 else { continue }
                switch onWake(byte) {
                case .redraw:
                    _ = drip_el_refresh(editor)
                case .discardLine:
                    discarded = true
                    interruptedEmptyLine = el_line(editor).map { $0.pointee.buffer == $0.pointee.lastchar } ?? false
                    return -1
                case .nothing:
                    break
                }
                continue
            }
            guard descriptors[0].revents != 0 else { continue }
            var first: UInt8 = 0
            let count = read(STDIN_FILENO, &first, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { return count == 0 ? 0 : -1 }
            let length = first < 0x80 ? 1 : first >> 5 == 0b110 ? 2 : first >> 4 == 0b1110 ? 3 : first >> 3 == 0b11110 ? 4 : 1
            var scalar = UInt32(length == 1 ? first : first & (0xFF >> (length + 1)))
            for _ in 1..<length {
                var next: UInt8 = 0
                guard read(STDIN_FILENO, &next, 1) == 1, next & 0xC0 == 0x80 else {
                    scalar = 0xFFFD
                    break
                }
                scalar = scalar << 6 | UInt32(next & 0x3F)
            }
            character.pointee = wchar_t(bitPattern: scalar)
            return 1
        }
    }

    /// `prompt` as libedit can decode it: itself in a UTF-8 locale; otherwise with every character
    /// outside ASCII shown as "?" (a prompt that does not decode would crash libedit).
    static func displayable(_ prompt: String, codeset: String = String(cString: nl_langinfo(nl_item(CODESET)))) -> String {
        guard codeset != "UTF-8" else { return prompt }
        return String(String.UnicodeScalarView(prompt.unicodeScalars.map { $0.isASCII ? $0 : "?" }))
    }

    deinit {
        el_end(editor)
        history_end(history)
        free(promptText)
    }

    /// Shows `prompt` and returns the line typed without its newline ("" when it was discarded),
    /// or nil at end of input.
    public func readLine(prompt: String) -> String? {
        free(promptText)
        promptText = strdup(Self.displayable(prompt))
        interruptedEmptyLine = false
        var count: Int32 = 0
        guard let line = el_gets(editor, &count), count > 0 else {
            if discarded {
                discarded = false
                el_reset(editor)
                return ""
            }
            return nil
        }
        var text = String(cString: line)
        if text.hasSuffix("\n") { text.removeLast() }
        if !text.trimmingSpaces.isEmpty {
            _ = drip_history_enter(history, text)
            if let historyPath { saveHistory(to: historyPath) }
        }
        return text
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        drop { $0 == " " || $0 == "\t" }
    }
}
