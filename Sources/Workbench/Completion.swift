import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The names tab completion offers besides the command table: clients, streams and proxies,
/// refreshed by the REPL after each command (completion runs on the reader thread and must not wait).
public final class CompletionNames: Sendable {
    /// The names in play: a client's where a client is asked for (proxies too: `close`, `expect`), a
    /// stream's where a stream is (proxies too: the faults), a proxy's where only a proxy will do.
    public struct Names: Sendable, Hashable {
        public var clients: [String]
        public var streams: [String]
        public var proxies: [String]

        public init(clients: [String] = [], streams: [String] = [], proxies: [String] = []) {
            self.clients = clients
            self.streams = streams
            self.proxies = proxies
        }
    }

    private let names = Mutex(Names())

    public init() {}

    public var current: Names { names.withLock { $0 } }

    func update(_ current: Names) { names.withLock { $0 = current } }
}

/// Tab completion for the command language, from the command table: command names, option names
/// (`event=`), choices, client and stream names, files after `@`.
public enum Completion {
    /// The candidates (whole words) for the word being typed at the end of `prefix`.
    public static func candidates(for prefix: String, names: CompletionNames.Names) -> [String] {
        let words = prefix.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let current = prefix.hasSuffix(" ") || prefix.isEmpty ? "" : words.last ?? ""
        let previous = current.isEmpty ? words : Array(words.dropLast())
        guard let commandName = previous.first else {
            return CommandTable.commands.map(\.name).filter { $0.hasPrefix(current) }
        }
        guard let spec = CommandTable.command(named: commandName) else { return [] }
        if let equals = current.firstIndex(of: "=") {
            let name = String(current[..<equals])
            let value = String(current[current.index(after: equals)...])
            guard let option = spec.option(named: name) else { return [] }
            return values(for: option.kind, argumentName: name, typed: value, names: names, command: spec.command).map { name + "=" + $0 }
        }
        if current.hasPrefix("@") { return files(matching: String(current.dropFirst())).map { "@" + $0 } }
        let used = Set(previous.dropFirst().compactMap { word in word.firstIndex(of: "=").map { String(word[..<$0]) } })
        let options = spec.options.filter { $0.repeatable || !used.contains($0.name) }.map { $0.name + "=" }
        let positionalCount = previous.dropFirst().filter { !$0.contains("=") }.count
        var positional: [String] = []
        if positionalCount < spec.arguments.count {
            let argument = spec.arguments[positionalCount]
            positional = values(for: argument.kind, argumentName: argument.name, typed: current, names: names, command: spec.command)
            if spec.name == "help" { positional = CommandTable.commands.map(\.name) }
        }
        return (positional + options).filter { $0.hasPrefix(current) }
    }

    private static func values(
        for kind: ValueKind, argumentName: String, typed: String, names: CompletionNames.Names, command: CommandName
    ) -> [String] {
        switch kind {
        case .choice(let choices): return choices.map(\.word).filter { $0.hasPrefix(typed) }
        case .toggle: return ["on", "off"].filter { $0.hasPrefix(typed) }
        case .name where argumentName == "client": return (names.clients + names.proxies).filter { $0.hasPrefix(typed) }
        case .name where argumentName == "stream":
            let proxies = CommandTable.proxyFaults.contains(command) ? names.proxies : []
            return (names.streams + proxies).filter { $0.hasPrefix(typed) }
        case .name where argumentName == "proxy" || argumentName == "via": return names.proxies.filter { $0.hasPrefix(typed) }
        case .path: return files(matching: typed)
        case .data where typed.hasPrefix("@"): return files(matching: String(typed.dropFirst())).map { "@" + $0 }
        default: return []
        }
    }

    /// What a candidate means, when it is a choice of the command being typed (`clean` after
    /// `drop news mode=`): the completion listing shows it beside the word.
    public static func meaning(of candidate: String, for prefix: String) -> String? {
        let words = prefix.split(separator: " ").map(String.init)
        guard let name = words.first, let spec = CommandTable.command(named: name) else { return nil }
        let word = candidate.split(separator: "=", maxSplits: 1).last.map(String.init) ?? candidate
        let choices = (spec.arguments.map(\.kind) + spec.options.map(\.kind)).flatMap(\.choices)
        return choices.first { $0.word == word }?.meaning
    }

    /// Paths starting with `typed` (directories end with `/`).
    static func files(matching typed: String) -> [String] {
        let slash = typed.lastIndex(of: "/")
        let directory = slash.map { String(typed[...$0]) } ?? ""
        let stem = slash.map { String(typed[typed.index(after: $0)...]) } ?? typed
        let manager = FileManager.default
        guard let entries = try? manager.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory) else { return [] }
        return entries.filter { $0.hasPrefix(stem) && (!$0.hasPrefix(".") || stem.hasPrefix(".")) }.sorted().map { entry in
            let path = directory + entry
            var status = stat()
            let isDirectory = stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
            return isDirectory ? path + "/" : path
        }
    }
}
