import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads lines on a dedicated thread (libedit's `el_gets` and `readLine` block) and hands them to
/// async code one at a time: the next line is read only when the consumer asks for it, so the
/// prompt never appears while the previous command is still printing. Output from other threads
/// goes above the line being edited, which is redrawn intact; `interrupt()` discards that line.
///
/// Invariant: the editor lives and is used on the reader thread only; other threads reach it
/// through the wake-up pipe and the pending-output queue.
public final class LineReader: Sendable {
    public enum Mode: Sendable {
        /// libedit: prompt, line editing, history kept in `historyPath`.
        case editor(historyPath: String?)
        /// Plain lines from standard input, no prompt (not a terminal, or `TERM=dumb`).
        case plain
    }

    private struct State {
        var editing = false
        var pending: [String] = []
    }

    private let prompt = Mutex("")
    private let state = Mutex(State())
    private let requests = DispatchSemaphore(value: 0)
    private let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private let completer: (@Sendable (String) -> [String])?
    private let describer: (@Sendable (String, String) -> String?)?

    /// `completer` gives tab-completion candidates for the text before the cursor (editor mode);
    /// `describer` what a candidate means (given the candidate and that text), shown in the listing.
    public init(
        mode: Mode, program: String = "drip", completer: (@Sendable (String) -> [String])? = nil,
        describer: (@Sendable (String, String) -> String?)? = nil
    ) {
        self.completer = completer
        self.describer = describer
        (stream, continuation) = AsyncStream.makeStream(of: String.self)
        var descriptors: [Int32] = [-1, -1]
        if pipe(&descriptors) != 0 { descriptors = [-1, -1] }
        wakeRead = descriptors[0]
        wakeWrite = descriptors[1]
        if !startThread({ [self] in readLoop(mode: mode, program: program) }) {
            let message = "drip: cannot start the line reader thread; no input will be read\n"
            _ = message.withCString { Glibc.write(STDERR_FILENO, $0, strlen($0)) }
            continuation.finish()
        }
    }

    /// Shows `prompt` (editor mode), waits for a line and returns it; nil at end of input.
    public func next(prompt text: String) async -> String? {
        prompt.withLock { $0 = text }
        requests.signal()
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
    }

    /// Prints `lines` now, or — while a line is being edited — above it, redrawing it after.
    public func print(_ lines: [String]) {
        let deferred = state.withLock { state -> Bool in
            guard state.editing else { return false }
            state.pending += lines
            return true
        }
        if deferred {
            wake("o")
        } else {
            Self.write(lines)
        }
    }

    /// Discards the line being edited and shows a fresh prompt; false when no line is being edited.
    @discardableResult
    public func interrupt() -> Bool {
        guard state.withLock({ $0.editing }) else { return false }
        wake("i")
        return true
    }

    private func wake(_ code: Character) {
        var byte = UInt8(ascii: code.unicodeScalars.first ?? "o")
        _ = Glibc.write(wakeWrite, &byte, 1)
    }

    private func readLoop(mode: Mode, program: String) {
        if case .editor(let historyPath) = mode,
            let editor = LineEditor(program: program, historyPath: historyPath, wakeDescriptor: wakeRead, onWake: { [self] code in onWake(code) })
        {
            editor.completer = completer
            editor.describer = describer
            // Ctrl-C on an empty line says how to leave; a second one in a row leaves, like Ctrl-D.
            var leavesOnNextInterrupt = false
            while true {
                requests.wait()
                let waiting = state.withLock { state -> [String] in
                    state.editing = true
                    defer { state.pending.removeAll() }
                    return state.pending
                }
                Self.write(waiting)
                let line = editor.readLine(prompt: prompt.withLock { $0 })
                let late = state.withLock { state -> [String] in
                    state.editing = false
                    defer { state.pending.removeAll() }
                    return state.pending
                }
                Self.write(late)
                guard let line else { break }
                if editor.interruptedEmptyLine {
                    if leavesOnNextInterrupt { break }
                    Self.write(["(Ctrl-C again or Ctrl-D leaves drip)"])
                }
                leavesOnNextInterrupt = editor.interruptedEmptyLine
                continuation.yield(line)
            }
        } else {
            while true {
                requests.wait()
                guard let line = Swift.readLine(strippingNewline: true) else { break }
                continuation.yield(line)
            }
        }
        continuation.finish()
    }

    /// On the reader thread, inside libedit's read: print what is pending over the prompt line.
    private func onWake(_ code: UInt8) -> LineEditor.WakeAction {
        if code == UInt8(ascii: "i") {
            Self.write(["^C"], clearingLine: false)
            return .discardLine
        }
        let lines = state.withLock { state -> [String] in
            defer { state.pending.removeAll() }
            return state.pending
        }
        guard !lines.isEmpty else { return .nothing }
        Self.write(lines, clearingLine: true)
        return .redraw
    }

    private static func write(_ lines: [String], clearingLine: Bool = false) {
        guard !lines.isEmpty else { return }
        var bytes: [UInt8] = clearingLine ? Array("\r\u{1B}[K".utf8) : []
        for line in lines {
            bytes += line.utf8
            bytes.append(UInt8(ascii: "\n"))
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// Runs `body` on a new detached thread; false when the system refuses one. (Foundation's `Thread`
/// would do, but linking Foundation costs every drip command milliseconds of start-up for this one use.)
private func startThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    let context = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { context in
            guard let context else { return nil }
            Unmanaged<Body>.fromOpaque(context).takeRetainedValue().run()
            return nil
        }, context)
    guard result == 0 else {
        Unmanaged<Body>.fromOpaque(context).release()
        return false
    }
    pthread_detach(thread)
    return true
}
