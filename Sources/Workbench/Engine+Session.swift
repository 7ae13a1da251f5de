import EventStream
import SSEClient
import SSEServer

/// What the session shows and how it paces: `status`, `log`, `sleep`, `help`.
extension Engine {
    func status() async throws(CommandError) {
        var lines = [serverURL.map { "server: \($0)" } ?? "server: not running"]
        lines.append(
            "clients: \(clients.isEmpty ? "none" : clients.keys.sorted().map { "\($0) (\(clients[$0]?.state.rawValue ?? ""))" }.joined(separator: ", "))"
        )
        lines.append("log: \(quiet ? "quiet" : "normal"), raw \(style.raw ? "on" : "off"), timestamps \(style.timestamps ? "on" : "off")")
        report(.info("status"), lines)
    }

    func configureLog(_ command: ParsedCommand) {
        if let level = command.option("level") { quiet = level == "quiet" }
        if let raw = command.toggle("raw") { style.raw = raw }
        if let timestamps = command.toggle("timestamps") {
            style.timestamps = timestamps
            stamps.isOn = timestamps
        }
        report(.info("log"), ["log: \(quiet ? "quiet" : "normal"), raw \(style.raw ? "on" : "off"), timestamps \(style.timestamps ? "on" : "off")"])
    }

    func sleep(_ command: ParsedCommand) async {
        guard let duration = command.duration("duration") else { return }
        try? await sleeper(timeScale.wall(duration.duration))
    }

    func help(_ command: ParsedCommand) throws(CommandError) {
        guard let name = command.argument("command") else {
            let width = CommandTable.commands.map(\.name.count).max() ?? 8
            let lines = CommandTable.commands.map { $0.name.padding(to: width) + "  " + $0.summary }
            return report(.info("help"), lines + ["", "help COMMAND explains one; lines may end with # comments"])
        }
        guard let spec = CommandTable.command(named: name) else {
            let hint = CommandTable.suggestions(for: name, among: CommandTable.commands.map(\.name)).first.map { "; did you mean '\($0)'?" } ?? ""
            throw CommandError("help: no command '\(name)'\(hint)", column: command.arguments["command"]?.column ?? 6)
        }
        report(.info("help \(name)"), HelpText.lines(for: spec))
    }
}

/// The text `help COMMAND` shows; the man page's command list will come from the same place.
public enum HelpText {
    public static func lines(for spec: CommandSpec) -> [String] {
        var lines = ["usage: \(spec.usage)", "", spec.summary]
        if !spec.discussion.isEmpty { lines += ["", spec.discussion] }
        if !spec.options.isEmpty {
            lines.append("")
            let width = spec.options.map { $0.name.count + $0.kind.placeholder.count + 1 }.max() ?? 0
            for option in spec.options {
                lines.append("  " + "\(option.name)=\(option.kind.placeholder)".padding(to: width) + "  " + option.summary)
            }
        }
        let choices = (spec.arguments.map(\.kind) + spec.options.map(\.kind)).flatMap(\.choices)
        if !choices.isEmpty {
            let width = choices.map(\.word.count).max() ?? 0
            lines += [""] + choices.map { "  " + $0.word.padding(to: width) + "  " + $0.meaning }
        }
        if !spec.examples.isEmpty {
            lines += ["", "examples:"] + spec.examples.map { "  " + $0 }
        }
        return lines
    }
}
