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
    /// With `on-connect` blocks in the script: exit once the first connection's block has ended (for CI).
    public var once: Bool

    public init(configuration: ServerConfiguration, script: String? = nil, fileSizeLimit: Int = InputFile.defaultSizeLimit, once: Bool = false) {
        self.configuration = configuration
        self.script = script
        self.fileSizeLimit = fileSizeLimit
        self.once = once
    }

    public func run() async -> Int32 {
        if let script { return await run(script: script) }
        // The viewer's live timeline (GET /timeline) shows what the server did.
        let timeline = TimelineLog(keepsEntries: false)
        let server = SSEServer(configuration: configuration) { entry in
            timeline.add(.event(.server(entry)))
            if case .listening = entry { return }
            Console.standardOutput.line("\(Console.timestamp()) \(entry)")
        }
        timeline.follow { server.publishTimeline($0) }
        let address: String
        do {
            address = SSEServer.url(for: try await server.start(), secure: configuration.tls != nil)
        } catch {
            Console.standardError.line("drip serve: \(error)")
            await server.stop()
            return 1
        }
        Console.standardOutput.line("drip serve: listening on \(address) — streams at \(address)/streams/NAME, viewer at \(address)/")
        if let tls = configuration.tls { Console.standardOutput.line("drip serve: " + Self.describe(tls)) }
        let signal = await Signals.next(of: [SIGINT, SIGTERM])
        Console.standardOutput.line("drip serve: \(signal == SIGINT ? "interrupted" : "terminated"), closing every stream")
        await server.stop()
        return 0
    }
}

extension ServeTool {
    /// The two digests a client trusts a TLS server by, and how to give them to curl and Chromium.
    static func describe(_ tls: ServerTLS) -> String {
        "TLS certificate SHA-256 \(tls.certificateFingerprint); public key pin sha256//\(tls.publicKeyPin) "
            + "(curl --pinnedpubkey 'sha256//\(tls.publicKeyPin)', chromium --ignore-certificate-errors-spki-list=\(tls.publicKeyPin))"
    }

    /// Serves through the workbench engine and plays the script at `path`: its server's side (the
    /// client lines are `drip run`'s and are skipped). With `on-connect` blocks the top level plays
    /// once at start and the blocks to every connection; without, the lines after the set-up wait for
    /// the first subscriber (a script played to whoever connects first). Serves until SIGINT/SIGTERM,
    /// or with `once` until the first connection's block has ended.
    func run(script path: String) async -> Int32 {
        let bytes: [UInt8]
        do throws(ToolError) { bytes = try InputFile.contents(of: path, limit: fileSizeLimit) } catch {
            Console.standardError.line("drip serve: \(error.message)")
            return 2
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        let hasBlocks = lines.contains { (try? CommandLexer.words(in: $0))?.first?.text == "on-connect" }
        let failed = Mutex(false)
        let (subscribed, subscription) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (ended, blockEnded) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let engine = Engine(fileSizeLimit: fileSizeLimit) { event, lines in
            if case .server(.connected) = event { subscription.yield() }
            if case .scenarioEnded = event { blockEnded.yield() }
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
        let setup = hasBlocks ? lines.count : lines.prefix { Self.isSetup($0) }.count
        let played = Task { () -> Bool in
            var skipped: [Int] = []
            for (index, line) in lines.enumerated() where !Task.isCancelled {
                if index == setup {
                    // A mock server plays to someone: what follows the set-up waits for the first subscriber.
                    Console.standardOutput.line("\(Console.timestamp()) waiting for the first subscriber before playing \(path):\(index + 1)")
                    for await _ in subscribed { break }
                    guard !Task.isCancelled else { return false }
                    Console.standardOutput.line("\(Console.timestamp()) a client subscribed: playing \(path)")
                }
                if await engine.openBlock == nil, let skip = Self.clientSide(line) {
                    guard skip else {
                        Console.standardError.line("drip serve: \(path):\(index + 1): this serve line sets options; give them to drip serve instead")
                        failed.withLock { $0 = true }
                        return true
                    }
                    skipped.append(index + 1)
                    continue
                }
                failed.withLock { $0 = false }
                await engine.execute(line, origin: "\(path):\(index + 1)")
                if failed.withLock({ $0 }) {
                    Console.standardError.line("drip serve: stopped the script at \(path):\(index + 1)")
                    return true
                }
            }
            if let block = await engine.openBlock {
                Console.standardError.line(
                    "drip serve: \(block.origin ?? path): the on-connect block for \(block.stream) has no end; close it with a line 'end'")
                failed.withLock { $0 = true }
                return true
            }
            if !skipped.isEmpty {
                Console.standardOutput.line(
                    "\(Console.timestamp()) skipped the client side of \(path) (lines \(Self.ranges(skipped))): drip run plays it")
            }
            Console.standardOutput.line(
                "\(Console.timestamp()) script \(path) played\(hasBlocks ? "; its on-connect blocks play to each connection" : ""); still serving (Ctrl-C to stop)"
            )
            return false
        }
        let reason = await Self.waitForEnd(once: once && hasBlocks, blockEnded: ended, played: played)
        played.cancel()
        subscription.finish()
        blockEnded.finish()
        Console.standardOutput.line("drip serve: \(reason), closing every stream")
        await engine.shutdown()
        return reason == Self.scriptFailed ? 2 : 0
    }

    static let scriptFailed = "the script failed"

    /// Waits for SIGINT or SIGTERM — or, with `once`, for the first block to end — and says which.
    private static func waitForEnd(once: Bool, blockEnded: AsyncStream<Void>, played: Task<Bool, Never>) async -> String {
        await withTaskGroup(of: String?.self) { group in
            group.addTask { await Signals.next(of: [SIGINT, SIGTERM]) == SIGINT ? "interrupted" : "terminated" }
            group.addTask {
                await played.value ? scriptFailed : nil
            }
            if once {
                group.addTask {
                    for await _ in blockEnded { return "the first connection's block ended (--once)" }
                    return nil
                }
            }
            var reason = "terminated"
            while let next = await group.next() {
                guard let next else { continue }
                reason = next
                break
            }
            group.cancelAll()
            return reason
        }
    }
}

extension ServeTool {
    /// Commands a script runs before anyone subscribes: they set up streams and faults, and send nothing.
    static let setupCommands: Set<CommandName> = [.stream, .log, .reject, .corrupt, .delay, .chunk]
    /// The client's side of a script, which `drip run` plays and `drip serve --script` skips.
    static let clientCommands: Set<CommandName> = [.connect, .close, .cut, .post, .expect, .expectNot, .wait, .record, .replay, .quit]

    /// Whether `line` is blank, a comment, or a set-up command.
    static func isSetup(_ line: String) -> Bool {
        do {
            guard let parsed = try CommandParser.parse(line) else { return true }
            return setupCommands.contains(parsed.name) || parsed.name == .serve || clientCommands.contains(parsed.name)
        } catch {
            return false
        }
    }

    /// For a line drip serve does not play: true to skip it (the client side, or a bare `serve`,
    /// whose server drip serve is), false for a `serve` with options drip serve cannot take from it;
    /// nil for a line to play.
    static func clientSide(_ line: String) -> Bool? {
        guard let parsed = try? CommandParser.parse(line) else { return nil }
        if parsed.name == .serve { return parsed.options.isEmpty }
        return clientCommands.contains(parsed.name) ? true : nil
    }

    /// `3-5, 9`.
    static func ranges(_ numbers: [Int]) -> String {
        var parts: [String] = []
        var start = numbers.first ?? 0
        var previous = start
        for number in numbers.dropFirst() + [Int.max] {
            if number == previous + 1 {
                previous = number
                continue
            }
            parts.append(start == previous ? "\(start)" : "\(start)-\(previous)")
            start = number
            previous = number
        }
        return parts.joined(separator: ", ")
    }
}
