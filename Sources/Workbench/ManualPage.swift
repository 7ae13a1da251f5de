/// drip-script(5), the manual of the command language, written from the command table — the same
/// source as `help` and tab completion, so the three cannot disagree.
public enum ManualPage {
    /// The whole page in mdoc, dated `date` (as "November 22, 2026").
    public static func script(date: String) -> String {
        var lines = [
            ".Dd \(date)", ".Dt DRIP-SCRIPT 5", ".Os", ".Sh NAME", ".Nm drip-script",
            ".Nd the command language of the drip REPL and of drip scripts", ".Sh DESCRIPTION",
            "The REPL and scripts run by",
            ".Xr drip-run 1",
            "speak one language:",
            "one command per line, words separated by spaces.",
            "A",
            ".Sq #",
            "outside quotes starts a comment.",
            ".Pp",
            "Words may be quoted with single or double quotes; inside both, the escapes",
            ".Sq \\en ,",
            ".Sq \\et ,",
            ".Sq \\er ,",
            ".Sq \\e0 ,",
            ".Sq \\e\\e ,",
            ".Sq \\e'",
            "and",
            ".Sq \\e\"",
            "stand for a line feed, a tab, a carriage return, NUL, a backslash and the quotes.",
            "Quoted and unquoted parts join into one word:",
            ".Ql data='a b'",
            "is the option data with the value a b.",
            ".Pp",
            "Options are written",
            ".Ar key Ns = Ns Ar value .",
            "Durations are whole numbers with a unit:",
            ".Ql 250ms , 2s , 1m , 1h",
            "(a bare number is milliseconds).",
            "Sizes are whole numbers with an optional unit:",
            ".Ql 512 , 64KB , 1MB",
            "(powers of 1024).",
            "A value written",
            ".Ar @FILE",
            "where data is expected is the contents of that file.",
            "Errors name the command, the offending word and its column, and suggest the nearest valid word.",
            ".Sh COMMANDS",
            ".Bl -tag -width Ds",
        ]
        for spec in CommandTable.commands {
            lines.append(".It Ic \(spec.name)")
            lines.append(".Dl \(escape(spec.usage))")
            lines += prose(spec.summary.prefix(1).uppercased() + spec.summary.dropFirst() + ".")
            if !spec.discussion.isEmpty {
                lines.append(".Bd -literal -offset indent")
                lines += spec.discussion.split(separator: "\n", omittingEmptySubsequences: false).map { literal(String($0)) }
                lines.append(".Ed")
            }
            if !spec.options.isEmpty {
                lines.append(".Bl -tag -width Ds -compact")
                for option in spec.options {
                    lines.append(".It Cm \(option.name) Ns = Ns Ar \(escape(option.kind.placeholder))")
                    lines += prose(option.summary.prefix(1).uppercased() + option.summary.dropFirst() + ".")
                }
                lines.append(".El")
            }
            let choices = (spec.arguments.map(\.kind) + spec.options.map(\.kind)).flatMap(\.choices)
            if !choices.isEmpty {
                lines.append(".Bl -tag -width Ds -compact")
                for choice in choices {
                    lines.append(".It Cm \(escape(choice.word))")
                    lines += prose(choice.meaning.prefix(1).uppercased() + choice.meaning.dropFirst() + ".")
                }
                lines.append(".El")
            }
            if !spec.examples.isEmpty {
                lines.append(".Pp")
                lines.append("Examples:")
                lines.append(".Bd -literal -offset indent")
                lines += spec.examples.map(literal)
                lines.append(".Ed")
            }
        }
        lines += [
            ".El", ".Sh EXPECTATIONS",
            "In scripts,",
            ".Ic expect",
            "and",
            ".Ic expect-not",
            "are the tests: a script whose expectation fails makes",
            ".Xr drip-run 1",
            "exit with status 1 and name the file and line.",
            ".Bd -literal -offset indent",
        ]
        lines += Expectation.matcherHelp.split(separator: "\n", omittingEmptySubsequences: false).map { literal(String($0)) }
        lines += [
            ".Ed", ".Sh EXAMPLES",
            ".Bd -literal -offset indent",
            "serve",
            "stream news retry=1s history=50",
            "connect c1 news",
            "emit news event=tick id=auto data='{\"n\":1}'",
            "expect c1 event=tick data.n=1",
            "drop news",
            "expect c1 reconnected last-event-id=1 within 3s",
            ".Ed", ".Sh SEE ALSO",
            ".Xr drip 1 ,",
            ".Xr drip-run 1 ,",
            ".Xr drip-serve 1",
        ]
        return lines.map { $0.replacingTabs }.joined(separator: "\n") + "\n"
    }

    /// Text safe on an mdoc text line: backslashes escaped.
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            result += character == "\\" ? "\\e" : String(character)
        }
        return result
    }

    /// A line inside a literal display: escaped, and protected when it starts with a dot or quote.
    static func literal(_ line: String) -> String {
        let escaped = escape(line)
        return escaped.hasPrefix(".") || escaped.hasPrefix("'") ? "\\&" + escaped : escaped
    }

    /// Running text, one sentence per line (as mdoc wants): a new line after each ". ".
    static func prose(_ text: String) -> [String] {
        var lines: [String] = []
        var current = ""
        var previous: Character = " "
        for character in escape(text) {
            if previous == ".", character == " " {
                lines.append(current)
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        if !current.isEmpty { lines.append(current) }
        return lines.map { $0.hasPrefix(".") || $0.hasPrefix("'") ? "\\&" + $0 : $0 }
    }
}

extension String {
    fileprivate var replacingTabs: String { String(map { $0 == "\t" ? " " : $0 }) }
}
