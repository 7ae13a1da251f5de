import CMalloc
import Dispatch
import EventStream
import NIOConcurrencyHelpers
import NIOPosix
import SSEClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `drip connect`: one client, printed as it goes, until the stream closes or the user interrupts.
/// Exit status 0 for a 204 stop or an interrupt, 1 when the stream failed.
public struct ConnectTool: Sendable {
    public var options: ClientOptions
    public var style: ClientOutputStyle

    public init(options: ClientOptions, style: ClientOutputStyle) {
        self.options = options
        self.style = style
    }

    /// Runs the client until the stream closes for good or the user interrupts, and returns the exit
    /// status. With `endingProcess` (`drip connect`), a client that closes with all its output
    /// written ends the process then and there, from the loop's thread, with that status: nothing
    /// after it needs the process, and the system takes back the loop, its buffers and the socket at
    /// once, where tearing them down first would cost the end of a 50 MB stream about 1 ms
    /// (`scripts/bench/connect`). An output error still returns, to be reported.
    public func run(endingProcess: Bool = false) async -> Int32 {
        Self.keepFreedReadBuffers()
        let options = readingOptions
        let style = self.style
        typealias Ending = (final: ClientEvent, outputError: ToolError?)
        // The client runs on its own one-thread event loop, reading, parsing and printing there: each
        // read goes to the parser on the thread that made it, not across to another, which keeps a
        // fast stream's work on one core (about 40% less CPU time for `scripts/bench/connect`'s stream).
        // Printing blocks that loop when the reader of the output is slow, which is the
        // back-pressure wanted: nothing else runs on it.
        let loops = Self.startedLoop.take()
        let loop = loops.next()
        let executor = EventLoopTaskExecutor(loop)
        let ending = await withTaskGroup(of: Ending?.self) { group -> Ending? in
            group.addTask(executorPreference: executor) {
                var output = OutputWriter(descriptor: STDOUT_FILENO, capacity: 1 << 16)
                var outputError: ToolError?
                // Output that cannot be written (a closed pipe, a full disk) ends the client: cancelling
                // this task closes the source.
                func stop(_ error: ToolError) {
                    if outputError == nil { outputError = error }
                    withUnsafeCurrentTask { $0?.cancel() }
                }
                func flush() {
                    do throws(ToolError) { try output.flush() } catch { stop(error) }
                }
                func print(_ event: ClientEvent) {
                    guard outputError == nil else { return }
                    do throws(ToolError) { try output.write { style.append(event, to: &$0) } } catch { stop(error) }
                }
                let final: ClientEvent
                if let form = style.directLineForm, !options.reportsRawBytes {
                    final = await EventSourceClient.runEncodingLines(options, form: form, comments: style.comments, group: loop) { event in
                        print(event)
                        flush()
                    } lines: { lines in
                        guard outputError == nil else { return }
                        do throws(ToolError) {
                            try output.write(contentsOf: lines)
                            try output.flush()
                        } catch { stop(error) }
                    }
                } else {
                    final = await EventSourceClient.run(options, group: loop, afterBatch: flush) { print($0) }
                }
                if outputError == nil {
                    do throws(ToolError) { try output.flush() } catch { outputError = error }
                }
                // Everything drip writes is written by now: its output here, and its standard error
                // line by line, unbuffered (`Console`).
                if endingProcess, outputError == nil { _exit(Self.exitStatus(closingWith: final)) }
                return (final, outputError)
            }
            group.addTask {
                _ = await Signals.next(of: [SIGINT, SIGTERM])
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if first == nil {
                // Interrupted: the client task ends with a close by the user, which it prints.
                return await group.next() ?? nil
            }
            return first
        }
        // The loop's thread ends on its own; `run` does not wait for it (`drip connect` exits next,
        // and waiting costs its end a wake-up and a thread to resume on).
        loops.shutdownGracefully { _ in }
        if let outputError = ending?.outputError {
            if outputError.readerLeft { return 0 }
            Console.standardError.line("drip connect: cannot write the output: \(outputError.message)")
            return 1
        }
        return ending.map { Self.exitStatus(closingWith: $0.final) } ?? 0
    }

    /// 1 when the client closed on a failure (`ClientEvent.closed`'s `isFailure`), otherwise 0.
    private static func exitStatus(closingWith final: ClientEvent) -> Int32 {
        if case .closed(_, let isFailure) = final, isFailure { return 1 }
        return 0
    }

    /// Starts the event loop the next `run` reads on, on another thread, so that its start (a thread,
    /// its selector) overlaps what the process does before `run`: `drip connect` calls it before it
    /// parses its arguments, 0.5 ms off its start. Without it, `run` starts the loop itself.
    public static func startLoop() {
        startedLoop.start()
    }

    private static let startedLoop = EarlyLoop()

    /// The one client of the process reads up to 512 KiB at a time (four times a client's default):
    /// each read costs the same hand-over from the socket to the parser however large, and on a fast
    /// stream fewer reads mean fewer wake-ups of the sender (`scripts/bench/connect`: 1 to 5 ms less
    /// for 50 MB than with 128 KiB reads).
    static let maximumReadSize = 512 << 10

    /// The options as given, with this tool's read size and receive buffer.
    private var readingOptions: ClientOptions {
        var options = options
        options.maximumReadSize = Self.maximumReadSize
        options.fixesLocalReceiveBuffer = true
        return options
    }

    /// A fast stream is read into buffers of up to 512 KiB that are freed as soon as they are parsed. glibc
    /// serves blocks that size with mmap(2) at first, and gives the top of its heap back to the system
    /// as soon as 128 KiB of it is free, so every read would fault its pages in afresh (a tenth of the
    /// reading thread's time on a 50 MB stream). One client keeps up to 32 MiB of freed heap for
    /// reuse instead, and takes blocks under 4 MiB from the heap (`scripts/bench/connect`).
    private static func keepFreedReadBuffers() {
        #if canImport(Glibc)
            _ = mallopt(M_MMAP_THRESHOLD, 4 << 20)
            _ = mallopt(M_TRIM_THRESHOLD, 32 << 20)
        #endif
    }
}

/// A one-thread event loop group started ahead (`ConnectTool.startLoop()`) and taken by the next
/// `take()`; a `take()` with none started makes a new group. The group is made on a serial queue of
/// its own, which dispatch always gives a thread (an overcommitting one): `take()` may wait on one of
/// the few threads that run tasks, and must not wait for another of them to be free.
final class EarlyLoop: Sendable {
    private let pending = NIOLockedValueBox<DispatchSemaphore?>(nil)
    private let made = NIOLockedValueBox<MultiThreadedEventLoopGroup?>(nil)
    private let makeGroup: @Sendable () -> MultiThreadedEventLoopGroup

    /// `makeGroup` makes each group (tests count them).
    init(makeGroup: @escaping @Sendable () -> MultiThreadedEventLoopGroup = { MultiThreadedEventLoopGroup(numberOfThreads: 1) }) {
        self.makeGroup = makeGroup
    }

    func start() {
        let ready = DispatchSemaphore(value: 0)
        let isFirst = pending.withLockedValue { pending in
            guard pending == nil else { return false }
            pending = ready
            return true
        }
        guard isFirst else { return }
        DispatchQueue(label: "drip.connect.early-loop").async { [made, makeGroup] in
            made.withLockedValue { $0 = makeGroup() }
            ready.signal()
        }
    }

    /// The group `start()` made (waiting for it to be made), or a new one.
    func take() -> MultiThreadedEventLoopGroup {
        let ready = pending.withLockedValue { pending in
            let ready = pending
            pending = nil
            return ready
        }
        ready?.wait()
        let group = made.withLockedValue { made in
            let group = made
            made = nil
            return group
        }
        return group ?? makeGroup()
    }
}
