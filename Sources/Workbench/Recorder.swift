import EventStream
import SSEClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a session as a script while it happens: a header, each command, `sleep` lines for the
/// pauses between commands, and an `expect` line for every event each client saw after each step.
///
/// Invariant: the file only ever grows by whole lines, each written with one `write(2)`, so a
/// session interrupted at any moment leaves a complete, valid script.
struct Recorder {
    let path: String
    private let descriptor: Int32
    private var lastCommand = ContinuousClock.now
    private var pendingExpectations: [String] = []

    init(path: String, version: String) throws(CommandError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CommandError("record: cannot write \(path): \(String(cString: strerror(errno)))", column: 8) }
        self.path = path
        self.descriptor = descriptor
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        let date =
            "\(parts.tm_year + 1900)-\(Self.two(parts.tm_mon + 1))-\(Self.two(parts.tm_mday)) \(Self.two(parts.tm_hour)):\(Self.two(parts.tm_min)) UTC"
        write(["# drip session recorded \(date) by drip \(version)", "# replay it with: drip run \(path)"])
    }

    private var opened: Set<String> = []

    /// Notes what a client saw — events, and the states a replay must wait for (opened,
    /// reconnected, closed, failed); each becomes an `expect` line before the next command.
    mutating func saw(_ event: ClientEvent, client: String) {
        switch event {
        case .open:
            opened.insert(client)
            return pendingExpectations.append("expect \(client) opened")
        case .connecting(_, _, let lastEventId) where opened.contains(client):
            return pendingExpectations.append("expect \(client) reconnected" + (lastEventId.map { " last-event-id=\(Self.quoted($0))" } ?? ""))
        case .closed(_, let isFailure):
            pendingExpectations.append("expect \(client) \(isFailure ? "failed" : "closed")")
        case .event(let sse):
            pendingExpectations.append(Self.expectation(for: sse, client: client))
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
    var keepsSecrets = false

    /// Writes what came before `line` (expectations, the pause) and the line itself.
    mutating func command(_ line: String) {
        let line = keepsSecrets ? line : Secrets.masked(line)
        let now = ContinuousClock.now
        let pause = now - lastCommand
        lastCommand = now
        var lines = pendingExpectations
        pendingExpectations.removeAll()
        let milliseconds = pause.clampedMilliseconds
        if milliseconds >= 100 { lines.append("sleep \(milliseconds / 10 * 10)ms") }
        lines.append(line)
        write(lines)
    }

    /// Writes the last expectations and closes the file.
    mutating func finish() {
        write(pendingExpectations)
        pendingExpectations.removeAll()
        close(descriptor)
    }

    private func write(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
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
