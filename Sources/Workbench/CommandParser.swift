import EventStream
import SSEClient

/// A line of the command language checked against the command table: every argument present and
/// every value of the right kind, so the engine only reads values.
public struct ParsedCommand: Sendable, Hashable {
    public var spec: CommandSpec
    public var arguments: [String: Word]
    /// Options in the order written (repeatable ones may appear more than once).
    public var options: [OptionValue]
    /// The words taken by a rest argument, one by one (their joined text is in `arguments`).
    public var restWords: [Word] = []
    /// The line as written.
    public var line: String = ""
    /// The connection an `on-connect` block aims this command at (its client id): the command acts
    /// on that connection alone, as `client=`/`to=` would, when it names the block's stream.
    public var connection: Int?

    public struct OptionValue: Sendable, Hashable {
        public var name: String
        public var value: Word
    }

    /// Which command it is: what the engine dispatches on.
    public var name: CommandName { spec.command }

    public func argument(_ name: String) -> String? { arguments[name]?.text }

    /// The last value given for option `name`.
    public func option(_ name: String) -> String? { options.last { $0.name == name }?.value.text }

    /// Every value given for a repeatable option.
    public func values(of name: String) -> [String] { options.filter { $0.name == name }.map(\.value.text) }

    public func duration(_ name: String) -> DurationValue? {
        (option(name) ?? argument(name)).flatMap { DurationValue(parsing: $0) }
    }

    public func integer(_ name: String) -> Int? { (option(name) ?? argument(name)).flatMap { Int($0) } }

    public func toggle(_ name: String) -> Bool? { option(name).flatMap(CommandParser.toggleValue) }
}

/// Parses lines of the command language against `CommandTable`, with errors that name the command,
/// the offending word and its column, and suggest the nearest valid word.
public enum CommandParser {
    /// The command on `line`, or nil for a blank or comment-only line.
    public static func parse(_ line: String, table: [CommandSpec] = CommandTable.commands) throws(CommandError) -> ParsedCommand? {
        try parse(words: CommandLexer.words(in: line), line: line, table: table)
    }

    /// The command the lexed `words` of `line` make (an `on-connect` block's line after its
    /// `${request.…}` references were filled in word by word), or nil when there are none.
    public static func parse(words: [Word], line: String, table: [CommandSpec] = CommandTable.commands) throws(CommandError) -> ParsedCommand? {
        guard let first = words.first else { return nil }
        guard let spec = table.first(where: { $0.name == first.text }) else {
            let hint = CommandTable.suggestions(for: first.text, among: table.map(\.name)).first.map { "; did you mean '\($0)'?" } ?? "; try 'help'"
            throw CommandError("unknown command '\(first.text)'\(hint)", column: first.column)
        }
        var positional: [Word] = []
        var options: [ParsedCommand.OptionValue] = []
        for word in words.dropFirst() {
            let inRest = spec.arguments.last?.takesRest == true && positional.count >= spec.arguments.count - 1
            if let split = optionSplit(word), !inRest {
                guard let option = spec.option(named: split.name) else {
                    if looksLikeOptionName(split.name) { throw unknownOption(split.name, column: word.column, in: spec) }
                    positional.append(word)
                    continue
                }
                if !option.repeatable, options.contains(where: { $0.name == option.name }) {
                    throw CommandError("\(spec.name): \(option.name)= is given twice", column: word.column)
                }
                try check(split.value, as: option.kind, what: "\(option.name)=", in: spec)
                options.append(.init(name: option.name, value: split.value))
                continue
            }
            if positional.count >= spec.arguments.count, !inRest {
                throw CommandError("\(spec.name): unexpected '\(word.text)' (usage: \(spec.usage))", column: word.column)
            }
            positional.append(word)
        }
        var arguments: [String: Word] = [:]
        var restWords: [Word] = []
        for (index, argument) in spec.arguments.enumerated() {
            if argument.takesRest, index < positional.count {
                let rest = positional[index...]
                let joined = Word(text: rest.map(\.text).joined(separator: " "), column: rest.first?.column ?? 0)
                arguments[argument.name] = joined
                restWords = Array(rest)
                break
            }
            guard index < positional.count else {
                if argument.isOptional { continue }
                throw CommandError(
                    "\(spec.name): missing \(argument.name.uppercased()) (usage: \(spec.usage))",
                    column: (words.last?.column ?? 1) + (words.last?.text.count ?? 0))
            }
            try check(positional[index], as: argument.kind, what: argument.name.uppercased(), in: spec)
            arguments[argument.name] = positional[index]
        }
        var parsed = ParsedCommand(spec: spec, arguments: arguments, options: options)
        parsed.restWords = restWords
        parsed.line = line
        return parsed
    }

    static func toggleValue(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "on", "yes", "true", "1": true
        case "off", "no", "false", "0": false
        default: nil
        }
    }

    /// `key=value` split at the first `=` written outside quotes.
    private static func optionSplit(_ word: Word) -> (name: String, value: Word)? {
        guard let valueColumn = word.valueColumn else { return nil }
        let keyLength = valueColumn - word.column - 1
        guard keyLength > 0, keyLength <= word.text.count else { return nil }
        let name = String(word.text.prefix(keyLength))
        let value = String(word.text.dropFirst(keyLength + 1))
        return (name, Word(text: value, column: valueColumn, wasQuoted: word.wasQuoted))
    }

    private static func looksLikeOptionName(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isLetter || $0 == "-" }
    }

    private static func unknownOption(_ name: String, column: Int, in spec: CommandSpec) -> CommandError {
        let known = spec.options.map(\.name)
        guard !known.isEmpty else { return CommandError("\(spec.name) takes no options (usage: \(spec.usage))", column: column) }
        let hint =
            CommandTable.suggestions(for: name, among: known).first.map { "did you mean '\($0)='?" }
            ?? "options: " + known.map { $0 + "=" }.joined(separator: " ")
        return CommandError("\(spec.name): unknown option '\(name)='; \(hint)", column: column)
    }

    private static func check(_ word: Word, as kind: ValueKind, what: String, in spec: CommandSpec) throws(CommandError) {
        let text = word.text
        func fail(_ expectation: String) -> CommandError {
            CommandError("\(spec.name): \(what) '\(text)' is not \(expectation)", column: word.column)
        }
        switch kind {
        case .text, .data, .path:
            return
        case .name:
            guard !text.isEmpty else { throw CommandError("\(spec.name): \(what) is empty", column: word.column) }
        case .url:
            do { _ = try HTTPURL(parsing: text) } catch { throw CommandError("\(spec.name): \(error)", column: word.column) }
        case .duration:
            if case .failure(let error) = DurationValue.parse(text) { throw CommandError("\(spec.name): \(what) \(error)", column: word.column) }
        case .size:
            guard ByteSize(parsing: text) != nil else { throw fail("a size (512, 64KB, 1MB)") }
        case .integer:
            guard Int(text).map({ $0 >= 0 }) == true else { throw fail("a whole number") }
        case .number:
            guard Double(text).map({ $0 >= 0 }) == true else { throw fail("a number") }
        case .toggle:
            guard toggleValue(text) != nil else { throw fail("on or off") }
        case .choice(let choices):
            let words = choices.map(\.word)
            guard words.contains(text) else {
                let hint = CommandTable.suggestions(for: text, among: words).first.map { "; did you mean '\($0)'?" } ?? ""
                throw CommandError("\(spec.name): \(what) '\(text)' is not one of \(words.joined(separator: ", "))\(hint)", column: word.column)
            }
        }
    }
}
