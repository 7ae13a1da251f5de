import CMalloc
import EventStream
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

    public func run() async -> Int32 {
        Self.keepFreedReadBuffers()
        let options = self.options
        let style = self.style
        typealias Ending = (final: ClientEvent, outputError: ToolError?)
        let ending = await withTaskGroup(of: Ending?.self) { group -> Ending? in
            group.addTask {
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
                    final = await EventSourceClient.runEncodingLines(options, form: form, comments: style.comments) { event in
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
                    final = await EventSourceClient.run(options, afterBatch: flush) { print($0) }
                }
                if outputError == nil {
                    do throws(ToolError) { try output.flush() } catch { outputError = error }
                }
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
        if let outputError = ending?.outputError {
            if outputError.readerLeft { return 0 }
            Console.standardError.line("drip connect: cannot write the output: \(outputError.message)")
            return 1
        }
        if case .closed(_, let isFailure) = ending?.final, isFailure { return 1 }
        return 0
    }

    /// A fast stream is read into 128 KiB buffers that are freed as soon as they are parsed. glibc
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
