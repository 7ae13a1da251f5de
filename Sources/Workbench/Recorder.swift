import EventStream
import SSEClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a session as a script while it happens: a header, the set-up of a session already under
/// way, each command, `sleep` lines for the pauses between commands, and an `expect` line for
/// every event each client saw after each step — so the recording replays green as it stands.
///
/// Invariant: the file only ever grows by whole lines, each batch written with `write(2)` until it
/// is all out, so a session interrupted at any moment leaves a complete, valid script; once a write
/// fails, `failure` says why and nothing more is written.
struct Recorder {
    let path: String
    private let descriptor: Int32
    private var lastCommand = ContinuousClock.now
    /// Expectations for what clients saw since the last command, each with its client.
    private var pendingExpectations: [(client: String, line: String)] = []
    /// Why the recording stopped: a write failed (a full disk, `/dev/full`).
    private(set) var failure: String?
    /// Bytes written so far, all of them whole lines.
    private var size = 0

    /// Creates the file and writes the header and `preamble` (the commands that set up the session
    /// so far); `openClients` are the clients open now, whose next connection is a reconnection.
    init(path: String, version: String, keepsSecrets: Bool = false, preamble: [String] = [], openClients: [String] = []) throws(CommandError) {
        self.keepsSecrets = keepsSecrets
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CommandError("record: cannot write \(path): \(String(cString: strerror(errno)))", column: 8) }
        self.path = path
        self.descriptor = descriptor
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        let date =
            "\(parts.tm_year + 1900)-\(Self.two(parts.tm_mon + 1))-\(Self.two(parts.tm_mday)) \(Self.two(parts.tm_hour)):\(Self.two(parts.tm_min)) UTC"
        var header = ["# drip session recorded \(date) by drip \(version)", "# replay it with: drip run \(path)"]
        if !preamble.isEmpty {
            header.append("# the session so far")
            header += preamble.map(masked) + openClients.map { "expect \($0) opened" }
        }
        opened = Set(openClients)
        write(header)
        if let failure {
            close(descriptor)
            throw CommandError("record: cannot write \(path): \(failure)", column: 8)
        }
    }

    private var opened: Set<String> = []

    /// Notes what a client saw — events, and the states a replay must wait for (opened,
    /// reconnected, closed, failed); each becomes an `expect` line before the next command.
    /// A client the user closed is gone: its closing is the `close` line, not an expectation.
    mutating func saw(_ event: ClientEvent, client: String) {
        switch event {
        case .open:
            opened.insert(client)
            pendingExpectations.append((client, "expect \(client) opened"))
        case .connecting(_, _, let lastEventId) where opened.contains(client):
            pendingExpectations.append(
                (client, "expect \(client) reconnected" + (lastEventId.map { " last-event-id=\(Self.quoted($0))" } ?? "")))
        case .closed(let reason, let isFailure):
            opened.remove(client)
            guard reason != EventSourceStateMachine.closedByUser else { return }
            pendingExpectations.append((client, "expect \(client) \(isFailure ? "failed" : "closed")"))
        case .event(let sse):
            pendingExpectations.append((client, Self.expectation(for: sse, client: client)))
        default:
            break
        }
    }

    private static func expectation(for sse: ServerSentEvent, client: String) -> String {
        var line = "expect \(client)"
        if sse.type != ServerSentEvent.defaultType { line += " event=\(Self.quoted(sse.type))" }
        line += " data=\(Self.quoted(sse.data))"
        if let id = sse.id, !id.isEmpty { line += " id=\(Self.quoted(id))" }
        return line
    }

    /// Whether secrets (Authorization headers, tokens) are written as typed; otherwise as `***`.
    let keepsSecrets: Bool

    private func masked(_ line: String) -> String { keepsSecrets ? line : Secrets.masked(line) }

    /// How many expectations are waiting; a command notes it when it starts, to tell what clients
    /// saw before it from what it caused.
    var pendingCount: Int { pendingExpectations.count }

    /// Writes a command that succeeded, once it has run: the expectations for what clients saw
    /// before it started (`pendingBefore` of them), the pause before it, and `line`. What it caused
    /// stays pending, to be written after it.
    mutating func command(_ line: String, startedAt start: ContinuousClock.Instant, pendingBefore mark: Int) {
        let before = pendingExpectations.prefix(mark).map(\.line)
        pendingExpectations.removeFirst(min(mark, pendingExpectations.count))
        write(before + pause(until: start) + [masked(line)])
        lastCommand = .now
    }

    /// Writes an expectation the user typed, once it has passed or failed, as a comment with its
    /// outcome: the recorder's own expectations already check every event and state the clients saw,
    /// exactly, and the typed one in their midst would look for an event they consumed (or fail
    /// again, when it failed live).
    mutating func expectation(_ line: String, outcome: String, startedAt start: ContinuousClock.Instant, pendingBefore mark: Int) {
        let before = pendingExpectations.prefix(mark).map(\.line)
        pendingExpectations.removeFirst(min(mark, pendingExpectations.count))
        write(before + pause(until: start) + ["# \(masked(line))  (\(outcome) live)"])
        lastCommand = .now
    }

    /// A `sleep` for the time between the end of the last command and the start of this one: a
    /// command that takes its time live (an expectation waiting) takes it again when replayed.
    private func pause(until start: ContinuousClock.Instant) -> [String] {
        let milliseconds = (start - lastCommand).clampedMilliseconds
        return milliseconds >= 100 ? ["sleep \(milliseconds / 10 * 10)ms"] : []
    }

    /// Writes the last expectations and closes the file; false (with `failure` set) when a write failed.
    mutating func finish() -> Bool {
        write(pendingExpectations.map(\.line))
        pendingExpectations.removeAll()
        close(descriptor)
        return failure == nil
    }

    private mutating func write(_ lines: [String]) {
        guard !lines.isEmpty, failure == nil else { return }
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        if let problem = Self.writeAll(bytes, to: descriptor) {
            failure = problem
            // Whatever part of this batch went out is cut off again: the file ends with a whole line.
            _ = ftruncate(descriptor, off_t(size))
            return
        }
        size += bytes.count
    }

    /// Writes all of `bytes` with `write(2)` (again after EINTR); nil, or why it stopped.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> String? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return written < 0 ? String(cString: strerror(errno)) : "nothing could be written" }
            offset += written
        }
        return nil
    }

    private static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// A word of the command language that reads back as `text`: single quotes, with escapes.
    static func quoted(_ text: String) -> String {
        let plain =
            !text.isEmpty
            && text.unicodeScalars.allSatisfy { scalar in
                scalar.value > 0x20 && scalar.value < 0x7F && !"'\"\\#=~".unicodeScalars.contains(scalar)
            }
        if plain { return text }
        var result = "'"
        for character in text {
            switch character {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\0": result += "\\0"
            case "\r\n": result += "\\r\\n"
            case "\\": result += "\\\\"
            case "'": result += "\\'"
            default: result.append(character)
            }
        }
        return result + "'"
    }
}

extension Engine {
    /// Commands a recording leaves out: they change nothing a replay depends on, or would recurse.
    static let unrecorded: Set<CommandName> = [.record, .timeline, .replay, .sleep, .help, .quit, .history, .clients, .streams, .status]

    /// Writes a command that succeeded to the recording; a failed write stops the recording, at once and loudly.
    func record(_ command: ParsedCommand, line: String, startedAt start: ContinuousClock.Instant, pendingBefore mark: Int) {
        guard var active = recorder else { return }
        if [.expect, .expectNot, .wait].contains(command.name) {
            let outcome = lastExpectation.map { $0.passed ? "passed" : "failed: \($0.detail)" } ?? "done"
            active.expectation(line, outcome: outcome, startedAt: start, pendingBefore: mark)
        } else {
            active.command(line, startedAt: start, pendingBefore: mark)
        }
        guard active.failure == nil else {
            recorder = nil
            _ = active.finish()
            return reportRecordingFailure(active)
        }
        recorder = active
    }

    func reportRecordingFailure(_ recorder: Recorder) {
        let message =
            "recording stopped: writing \(recorder.path) failed: \(recorder.failure ?? "unknown error"); the file ends at the last whole line written"
        report(.failure(CommandError(message, column: 1)), ["error: \(message)"])
    }
}
