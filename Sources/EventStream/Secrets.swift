/// The one masking function for secrets: every line drip writes where a person or a file may keep
/// it (the server's log and error bodies, the REPL's result lines, recordings, captures) passes
/// through `masked` unless the user asked to keep secrets.
public enum Secrets {
    /// `line` with the values of `Authorization` and `Proxy-Authorization` headers (after a
    /// `Bearer`/`Basic` scheme), `Cookie` headers, `?token=`/`&token=` query values and `token=`
    /// options replaced by `***`.
    public static func masked(_ line: String) -> String {
        // Most lines hold none of these (and building the expressions costs more than the rest of a
        // `drip connect` start-up); those are returned as they are.
        let lowered = line.lowercased()
        guard lowered.contains("token=") || lowered.contains("authorization") || lowered.contains("cookie") else { return line }
        let patterns = [
            #"(?i)(authorization:\s*(?:bearer\s+|basic\s+)?)[^'"\s]+"#,
            #"(?i)((?:^|[\s'"])(?:set-)?cookie:\s*)[^'"]+"#,
            #"(?i)([?&]token=)[^&'"\s]+"#,
            #"(?i)((?:^|\s)token=)(?:'[^']*'|"[^"]*"|\S+)"#,
        ]
        var masked = line
        for pattern in patterns {
            guard let regex = try? Regex(pattern) else { continue }
            masked = masked.replacing(regex) { match in
                (match.output.count > 1 ? match.output[1].substring.map(String.init) ?? "" : "") + "***"
            }
        }
        return masked
    }
}
