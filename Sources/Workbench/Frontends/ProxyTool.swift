import NIOPosix
import SSEClient
import SSEProxy
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `drip proxy`: a reverse proxy in front of one upstream, printing every exchange as it passes
/// (`ProxyOutput`) until SIGINT or SIGTERM, when it closes every connection and exits 0. A port that
/// cannot be bound, or an upstream that cannot be used, is one line and status 1.
public struct ProxyTool: Sendable {
    public var upstream: HTTPURL
    public var host: String
    public var port: Int
    public var tls: TLSOptions
    public var limits: ProxyServer.Limits
    public var output: ProxyOutput
    /// Where to write what passes as a mock-server script, if anywhere.
    public var capturePath: String?
    /// Whether the capture keeps tokens as they were (otherwise `***`).
    public var captureKeepsSecrets: Bool
    /// Print requests, answers and ends only, not what passes in event streams (still parsed).
    public var quiet = false
    /// Event loop threads the proxy runs on.
    public var threads = 1

    public init(
        upstream: HTTPURL, host: String, port: Int, tls: TLSOptions, limits: ProxyServer.Limits, output: ProxyOutput, capturePath: String? = nil,
        captureKeepsSecrets: Bool = false
    ) {
        self.capturePath = capturePath
        self.captureKeepsSecrets = captureKeepsSecrets
        self.upstream = upstream
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.output = output
    }

    public func run() async -> Int32 {
        let output = self.output
        let quiet = self.quiet
        let capture = Mutex<CaptureFile?>(nil)
        if let capturePath {
            do throws(ToolError) {
                let file = try CaptureFile(path: capturePath, upstream: upstream.description, keepsSecrets: captureKeepsSecrets)
                capture.withLock { $0 = file }
            } catch {
                Console.standardError.line("drip proxy: --capture: \(error.message)")
                return 1
            }
        }
        // Formatting, printing and the capture happen off the event loops, a batch at a time; each
        // event keeps the time it happened, for the capture's spacing.
        let capturePath = self.capturePath
        let printer = BatchedOutput<(event: ProxyEvent, at: ContinuousClock.Instant)>(console: .standardOutput) { item in
            let failure = capture.withLock { file -> String? in
                let before = file?.failure
                file?.add(item.event, at: item.at)
                return before == nil ? file?.failure : nil
            }
            if let failure { Console.standardError.line("drip proxy: the capture stopped: cannot write \(capturePath ?? ""): \(failure)") }
            return output.lines(for: item.event)
        }
        let proxy: ProxyServer
        let port: Int
        do {
            proxy = try ProxyServer(
                upstream: upstream, host: host, port: self.port, tls: tls, limits: limits, reportsEvents: !quiet || capturePath != nil,
                group: MultiThreadedEventLoopGroup(numberOfThreads: threads)
            ) { event in
                printer.add((event, .now))
            }
            port = try await proxy.start()
        } catch {
            printer.finish()
            Console.standardError.line("drip proxy: \(error)")
            return 1
        }
        let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        Console.standardError.line(
            "drip proxy: \(url) → \(upstream); point the client at \(url)\(upstream.target == "/" ? "" : " (paths go after \(upstream.target))")")
        let signal = await Signals.next(of: [SIGINT, SIGTERM])
        Console.standardError.line("drip proxy: \(signal == SIGINT ? "interrupted" : "terminated"), closing every connection")
        await proxy.stop()
        printer.finish()
        capture.withLock { $0?.finish() }
        if let capturePath { Console.standardError.line("drip proxy: captured in \(capturePath); serve it with drip serve --script \(capturePath)") }
        return 0
    }
}
