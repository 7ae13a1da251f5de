/// One word of a command line, with where it started (1-based column) for error messages.
public struct Word: Sendable, Hashable {
    /// The text after quotes and escapes were resolved.
    public var text: String
    public var column: Int
    /// Whether any part of the word was quoted (a quoted `a=b` is not an option).
    public var wasQuoted: Bool
    /// For `key=value` words: the column where the value starts.
    public var valueColumn: Int?

    public init(text: String, column: Int, wasQuoted: Bool = false, valueColumn: Int? = nil) {
        self.text = text
        self.column = column
        self.wasQuoted = wasQuoted
        self.valueColumn = valueColumn
    }
}

/// A problem with a command line: what, and the 1-based column where it is.
public struct CommandError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var column: Int

    public init(_ message: String, column: Int) {
        self.message = message
        self.column = column
    }

    public var description: String { message }
}

/// Splits a line of the command language into words: whitespace separates words; `'…'` and `"…"`
/// quote (with `\n`, `\t`, `\r`, `\0`, `\\`, `\'`, `\"` escapes in both); `#` outside quotes starts a
/// comment; quotes may join with unquoted text (`data='a b'` is one word `data=a b`).
public enum CommandLexer {
    public static func words(in line: String) throws(CommandError) -> [Word] {
        var words: [Word] = []
        var current = ""
        var start: Int?
        var quoted = false
        var valueColumn: Int?
        var quote: Character?
        var quoteColumn = 0
        var escaping = false
        var column = 0

        func finish() {
            if let start { words.append(Word(text: current, column: start, wasQuoted: quoted, valueColumn: valueColumn)) }
            current = ""
            start = nil
            quoted = false
            valueColumn = nil
        }

        for character in line {
            column += 1
            if escaping {
                escaping = false
                switch character {
                case "n": current.append("\n")
                case "t": current.append("\t")
                case "r": current.append("\r")
                case "0": current.append("\u{0}")
                case "\\", "'", "\"": current.append(character)
                default:
                    throw CommandError("unknown escape '\\\(character)'; use \\n, \\t, \\r, \\0, \\\\, \\' or \\\"", column: column - 1)
                }
                continue
            }
            if let open = quote {
                if character == "\\" {
                    escaping = true
                } else if character == open {
                    quote = nil
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case " ", "\t":
                finish()
            case "#":
                finish()
                return words
            case "'", "\"":
                if start == nil { start = column }
                quote = character
                quoteColumn = column
                quoted = true
            case "\\":
                if start == nil { start = column }
                escaping = true
            case "=":
                if start == nil { start = column }
                if valueColumn == nil, !quoted { valueColumn = column + 1 }
                current.append(character)
            default:
                if start == nil { start = column }
                current.append(character)
            }
        }
        if quote != nil { throw CommandError("unterminated quote", column: quoteColumn) }
        if escaping { throw CommandError("a line cannot end with a backslash", column: column) }
        finish()
        return words
    }
}
