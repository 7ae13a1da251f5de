import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Waits for termination signals without letting their default action kill the process.
public enum Signals {
    /// Calls `handler` (on a background queue) each time one of `signals` arrives, until the
    /// returned sources are cancelled.
    public static func watch(_ signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) -> [any DispatchSourceSignal] {
        signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    /// Suspends until one of `signals` arrives, and returns it.
    public static func next(of signals: [Int32]) async -> Int32 {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        let sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        var received: Int32 = SIGTERM
        for await number in stream {
            received = number
            break
        }
        sources.forEach { $0.cancel() }
        return received
    }
}

/// Unbuffered line output, safe from any thread: each line is one `write(2)`, so lines from
/// concurrent writers never interleave mid-line and nothing waits in a buffer when drip is killed.
public struct Console: Sendable {
    public let descriptor: Int32

    public static let standardOutput = Console(descriptor: STDOUT_FILENO)
    public static let standardError = Console(descriptor: STDERR_FILENO)

    public func line(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// The local wall-clock time as `HH:MM:SS.mmm`.
    public static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        localtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = Int(now.tv_nsec / 1_000_000)
        let millis = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)"
    }
}

/// Output that may come thousands of items a second from many threads (a proxy's events): items
/// are queued under a lock — all a caller on an event loop pays — and the first item of a batch
/// schedules one write, `interval` later, of everything gathered by then, in one `write(2)`. Nothing
/// wakes while nothing is queued. `finish` writes the rest.
///
/// Invariant: items are written in the order they were queued, each item's lines together (a batch
/// is taken from the queue and written under one lock, so two writes cannot interleave or swap).
public final class BatchedOutput<Item: Sendable>: Sendable {
    private struct Pending {
        var items: [Item] = []
        /// The write of the batch being gathered, `interval` after its first item; cancelled by `finish`.
        var scheduledWrite: Task<Void, Never>?
        var finished = false
    }

    private let pending = Mutex(Pending())
    private let writing = Mutex(())
    private let console: Console
    private let interval: Duration
    private let format: @Sendable (Item) -> [String]

    public init(console: Console, interval: Duration = .milliseconds(5), format: @escaping @Sendable (Item) -> [String]) {
        self.console = console
        self.interval = interval
        self.format = format
    }

    public func add(_ item: Item) {
        let interval = interval
        let writesNow = pending.withLock { state -> Bool in
            state.items.append(item)
            if state.finished { return true }
            if state.scheduledWrite == nil {
                state.scheduledWrite = Task { [weak self] in
                    try? await Task.sleep(for: interval)
                    self?.flush()
                }
            }
            return false
        }
        if writesNow { flush() }
    }

    /// Writes what is queued; anything added later is written at once, in order.
    public func finish() {
        let scheduled = pending.withLock { state in
            state.finished = true
            return state.scheduledWrite
        }
        scheduled?.cancel()
        flush()
    }

    private func flush() {
        writing.withLock { _ in
            let items = pending.withLock { state in
                defer {
                    state.items.removeAll(keepingCapacity: true)
                    state.scheduledWrite = nil
                }
                return state.items
            }
            guard !items.isEmpty else { return }
            let text = items.flatMap(format).joined(separator: "\n")
            if !text.isEmpty { console.line(text) }
        }
    }
}
