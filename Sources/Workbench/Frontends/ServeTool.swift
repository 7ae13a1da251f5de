import Dispatch
import SSEServer
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `drip serve`: the embedded server alone, logging what happens until SIGINT or SIGTERM, when it
/// ends every stream cleanly and exits 0. A port that cannot be bound is one line and status 1.
public struct ServeTool: Sendable {
    public var configuration: ServerConfiguration
    /// A script of the command language played against the server once it listens (a mock server
    /// for someone's app): its emits, faults and sleeps, to whatever client connects.
    public var script: String?
    /// The most bytes the script or an `@FILE` value in it may hold.
    public var fileSizeLimit: Int

    public init(configuration: ServerConfiguration, script: String? = nil, fileSizeLimit: Int = InputFile.defaultSizeLimit) {
        self.configuration = configuration
        self.script = script
        self.fileSizeLimit = fileSizeLimit
    }

    public func run() async -> Int32 {
        if let script { return await run(script: script) }
        let server = SSEServer(configuration: configuration) { entry in
            if case .listening = entry { return }
            Console.standardOutput.line("\(Console.timestamp()) \(entry)")
        }
        let address: String
        do {
            address = SSEServer.url(for: try await server.start())
        } catch {
            Console.standardError.line("drip serve: \(error)")
            await server.stop()
            return 1
        }
        Console.standardOutput.line("drip serve: listening on \(address) — streams at \(address)/streams/NAME, viewer at \(address)/")
        let signal = await Signals.next(of: [SIGINT, SIGTERM])
        Console.standardOutput.line("drip serve: \(signal == SIGINT ? "interrupted" : "terminated"), closing every stream")
        await server.stop()
        return 0
    }
}

extension ServeTool {
    /// Serves through the workbench engine, plays `path`, then keeps serving until SIGINT/SIGTERM.
    func run(script path: String) async -> Int32 {
        let bytes: [UInt8]
        do throws(ToolError) { bytes = try InputFile.contents(of: path, limit: fileSizeLimit) } catch {
            Console.standardError.line("drip serve: \(error.message)")
            return 2
        }
        let failed = Mutex(false)
        let (subscribed, subscription) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let engine = Engine(fileSizeLimit: fileSizeLimit) { event, lines in
            if case .server(.connected) = event { subscription.yield() }
            if case .failure(let error) = event {
                failed.withLock { $0 = true }
                Console.standardError.line("drip serve: \(path): \(error.message)")
                return
            }
            for line in lines { Console.standardOutput.line("\(Console.timestamp()) \(line)") }
        }
        guard await engine.serve(configuration) else {
            await engine.shutdown()
            return 1
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let setup = lines.prefix { Self.isSetup(String($0)) }.count
        let played = Task {
            for (index, line) in lines.enumerated() where !Task.isCancelled {
                if index == setup {
                    // A mock server plays to someone: what follows the set-up waits for the first subscriber.
                    Console.standardOutput.line("\(Console.timestamp()) waiting for the first subscriber before playing \(path):\(index + 1)")
                    for await _ in subscribed { break }
                    guard !Task.isCancelled else { return }
                    Console.standardOutput.line("\(Console.timestamp()) a client subscribed: playing \(path)")
                }
                failed.withLock { $0 = false }
                await engine.execute(String(line))
                if failed.withLock({ $0 }) {
                    Console.standardError.line("drip serve: stopped the script at \(path):\(index + 1)")
                    return
                }
            }
            Console.standardOutput.line("\(Console.timestamp()) script \(path) played; still serving (Ctrl-C to stop)")
        }
        let signal = await Signals.next(of: [SIGINT, SIGTERM])
        played.cancel()
        subscription.finish()
        Console.standardOutput.line("drip serve: \(signal == SIGINT ? "interrupted" : "terminated"), closing every stream")
        await engine.shutdown()
        return 0
    }
}

extension ServeTool {
    /// Commands a script runs before anyone subscribes: they set up streams and faults, and send nothing.
    static let setupCommands: Set<CommandName> = [.stream, .log, .reject, .corrupt, .delay, .chunk]

    /// Whether `line` is blank, a comment, or a set-up command.
    static func isSetup(_ line: String) -> Bool {
        do {
            guard let parsed = try CommandParser.parse(line) else { return true }
            return setupCommands.contains(parsed.name)
        } catch {
            return false
        }
    }
}
