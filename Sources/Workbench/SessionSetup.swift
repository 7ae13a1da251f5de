/// The commands that made the session what it is now — the server, its streams, the open clients,
/// the log settings — so a recording started midway can begin by setting the same session up.
///
/// Invariant: holds only commands that succeeded, and forgets what is gone: `stop` drops the server
/// and its streams, `close` drops its client.
struct SessionSetup: Sendable {
    private var serve: String?
    private var streams: [String] = []
    private var connects: [(client: String, line: String)] = []
    private var log: [String] = []
    private var blocks: [String] = []

    /// Notes `command` (typed as `line`), which has just succeeded.
    mutating func note(_ command: ParsedCommand, line: String) {
        switch command.name {
        case .serve: serve = line
        case .stop:
            serve = nil
            streams.removeAll()
        case .stream: streams.append(line)
        case .connect: connects.append((command.argument("client") ?? "", line))
        case .close: connects.removeAll { $0.client == command.argument("client") }
        case .log: log.append(line)
        default: break
        }
    }

    /// Notes an `on-connect` block (its lines, `on-connect` to `end`), which has just been read.
    mutating func noteBlock(_ lines: [String]) {
        blocks.append(lines.joined(separator: "\n"))
    }

    /// The commands, in an order that replays: log settings, the server, its streams, the clients —
    /// each client resuming from the last event id it has now (`lastEventIds`), so its next
    /// reconnection sends the same Last-Event-ID as it does live.
    func lines(lastEventIds: [String: String]) -> [String] {
        let clients = connects.map { client, line in
            lastEventIds[client].map { $0.isEmpty ? line : "\(Engine.withoutComment(line)) last-event-id=\(Recorder.quoted($0))" } ?? line
        }
        return log + (serve.map { [$0] } ?? []) + streams + blocks + clients
    }
}
