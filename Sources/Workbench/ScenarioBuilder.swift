/// Reads an `on-connect` block line by line (the REPL, `drip run` and `drip serve --script` feed it
/// the same way), checking each line as it comes: a mistake is reported at its own line when the
/// block is read, not when the first client arrives.
///
/// Invariant: `levels` is never empty; its first level is the block itself, each next one an open `if`.
struct ScenarioBuilder: Sendable {
    private struct Level: Sendable {
        var condition: ScenarioCondition?
        var then: [ScenarioStep] = []
        var otherwise: [ScenarioStep] = []
        var inElse = false

        mutating func append(_ step: ScenarioStep) {
            if inElse { otherwise.append(step) } else { then.append(step) }
        }
    }

    /// What a block may do to its connection (and to other streams).
    static let allowed: [CommandName] = [.emit, .comment, .sleep, .drop, .stall, .delay, .chunk, .corrupt, .reject]
    /// How deep `if`s may nest.
    static let maxDepth = 16

    let stream: String
    let origin: String?
    /// The block's lines as written, `on-connect` to `end` (for a recording).
    private(set) var lines: [String]
    private var levels = [Level()]

    init(stream: String, line: String, origin: String?) {
        self.stream = stream
        self.origin = origin
        self.lines = [line]
    }

    /// How deep the reader is: 1 inside the block, 2 inside an `if` in it, and so on.
    var depth: Int { levels.count }

    /// Takes the next line; returns the finished block at its `end`. A line that is wrong throws
    /// and is not taken (the block stays open, so a person at the REPL can type it again).
    mutating func feed(_ line: String, origin: String?) throws(CommandError) -> Scenario? {
        let words = try CommandLexer.words(in: line)
        guard let first = words.first else {
            lines.append(line)
            return nil
        }
        switch first.text {
        case "end":
            guard words.count == 1 else { throw CommandError("end takes nothing after it", column: words[1].column) }
            lines.append(line)
            let level = levels.removeLast()
            guard let condition = level.condition, var parent = levels.popLast() else {
                return Scenario(stream: stream, steps: level.then, origin: self.origin)
            }
            parent.append(.conditional(condition, then: level.then, otherwise: level.otherwise))
            levels.append(parent)
            return nil
        case "else":
            guard words.count == 1 else { throw CommandError("else takes nothing after it", column: words[1].column) }
            guard levels.count > 1, let level = levels.last else { throw CommandError("else without an if", column: first.column) }
            guard !level.inElse else { throw CommandError("a second else for one if", column: first.column) }
            levels[levels.count - 1].inElse = true
        case "if":
            guard words.count == 2 else {
                throw CommandError(
                    "if takes one condition: request.PART=VALUE or request.PART (usage: if request.header.Last-Event-ID=3)",
                    column: words.count > 2 ? words[2].column : first.column)
            }
            guard levels.count <= Self.maxDepth else { throw CommandError("ifs nest at most \(Self.maxDepth) deep", column: first.column) }
            levels.append(Level(condition: try ScenarioCondition(parsing: words[1].text, column: words[1].column)))
        case "on-connect":
            throw CommandError("on-connect blocks do not nest; end the block for \(stream) first", column: first.column)
        default:
            try check(words, line: line)
            levels[levels.count - 1].append(.command(line: line, origin: origin))
        }
        lines.append(line)
        return nil
    }

    /// Checks a command line of the block: an allowed command, well-formed references, and values
    /// of the right kind except where a reference fills them in (checked per connection).
    private func check(_ words: [Word], line: String) throws(CommandError) {
        for word in words { _ = try RequestExpansion.references(in: word.text, column: word.column) }
        guard let name = CommandName(rawValue: words[0].text), Self.allowed.contains(name) else {
            _ = try CommandParser.parse(words: words, line: line)  // an unknown command's error, with its suggestion
            throw CommandError(
                "\(words[0].text) cannot be in an on-connect block; a block may hold "
                    + Self.allowed.map(\.rawValue).joined(separator: ", ") + ", if, else and end",
                column: words[0].column)
        }
        do throws(CommandError) {
            _ = try CommandParser.parse(words: words, line: line)
        } catch {
            let filledIn = words.contains {
                $0.text.contains("${request.") && error.column >= $0.column && error.column <= $0.column + $0.text.count + 2
            }
            if !filledIn { throw error }
        }
    }
}
