import EventStream
import SSEClient
import SSEServer

/// `record` and `replay`.
extension Engine {
    func record(_ command: ParsedCommand) throws(CommandError) {
        let path = command.argument("file") ?? ""
        if path == "stop" {
            guard var active = recorder else { throw CommandError("record: nothing is being recorded", column: 8) }
            recorder = nil
            guard active.finish() else { return reportRecordingFailure(active) }
            return report(.info("recorded \(active.path)"), ["recording saved to \(active.path)"])
        }
        if let active = recorder { throw CommandError("record: already recording to \(active.path); 'record stop' first", column: 8) }
        let open = clients.filter { $0.value.state == .open }.keys.sorted()
        recorder = try Recorder(
            path: path, version: Self.version, keepsSecrets: command.toggle("secrets") ?? recordsSecrets,
            preamble: setup.lines(lastEventIds: clients.mapValues(\.lastEventId)), openClients: open)
        report(.info("recording \(path)"), ["recording to \(path) ('record stop' ends it)"])
    }

    func replay(_ command: ParsedCommand) async throws(CommandError) {
        let path = command.argument("file") ?? ""
        let text = try dataValue("@" + path, command: command)
        let factor = command.option("speed").flatMap(Double.init) ?? 1
        guard factor > 0 else { throw CommandError("replay: speed must be more than 0", column: 1) }
        // A script sets up its own server and clients, as under drip run: it plays in a workbench of
        // its own, so its serve cannot collide with this session's and its stop stops only its server.
        let workbench = Engine(
            speed: timeScale.speed * factor, recordsSecrets: recordsSecrets, fileSizeLimit: fileSizeLimit, sleep: sleeper, output: output)
        report(.info("replaying \(path)"), ["replaying \(path) in a workbench of its own (this session's server and clients carry on)"])
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !Task.isCancelled {
            let line = String(line)
            if let parsed = try? CommandParser.parse(line), ["record", "replay", "quit"].contains(parsed.spec.name) { continue }
            await workbench.execute(line)
        }
        await workbench.shutdown()
        report(.info("replayed \(path)"), ["replayed \(path); its server and clients are closed"])
    }
}
