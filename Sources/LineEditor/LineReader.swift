import Foundation
import Synchronization

/// Reads lines on a dedicated thread (libedit's `el_gets` and `readLine` block) and hands them to
/// async code one at a time: the next line is read only when the consumer asks for it, so the
/// prompt never appears while the previous command is still printing.
///
/// Invariant: the editor lives and is used on the reader thread only.
public final class LineReader: Sendable {
    public enum Mode: Sendable {
        /// libedit: prompt, line editing, history kept in `historyPath`.
        case editor(historyPath: String?)
        /// Plain lines from standard input, no prompt (not a terminal, or `TERM=dumb`).
        case plain
    }

    private let prompt = Mutex("")
    private let requests = DispatchSemaphore(value: 0)
    private let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    public init(mode: Mode, program: String = "drip") {
        (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let thread = Thread { [self] in readLoop(mode: mode, program: program) }
        thread.name = "drip line reader"
        thread.start()
    }

    /// Shows `prompt` (editor mode), waits for a line and returns it; nil at end of input.
    public func next(prompt text: String) async -> String? {
        prompt.withLock { $0 = text }
        requests.signal()
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
    }

    private func readLoop(mode: Mode, program: String) {
        switch mode {
        case .editor(let historyPath):
            guard let editor = LineEditor(program: program, historyPath: historyPath) else { return readPlain() }
            while true {
                requests.wait()
                guard let line = editor.readLine(prompt: prompt.withLock { $0 }) else { break }
                continuation.yield(line)
            }
        case .plain:
            readPlain()
        }
        continuation.finish()
    }

    private func readPlain() {
        while true {
            requests.wait()
            guard let line = Swift.readLine(strippingNewline: true) else { break }
            continuation.yield(line)
        }
        continuation.finish()
    }
}
