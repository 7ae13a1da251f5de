/// The one masking function for secrets: every line drip writes where a person or a file may keep
/// it (the server's log and error bodies, the REPL's result lines, recordings, captures) passes
/// through `masked` unless the user asked to keep secrets.
public enum Secrets {
    /// `line` with the values of `Authorization` and `Proxy-Authorization` headers (after a
    /// `Bearer`/`Basic` scheme), `Cookie` headers, `?token=`/`&token=` query values and `token=`
    /// options replaced by `***`.
    public static func masked(_ line: String) -> String {
        // Most lines hold none of these (and building the expressions costs more than the rest of a
        // `drip connect` start-up); those are returned as they are. The test reads bytes: a first
        // `lowercased()` and `contains` cost ~0.3 ms of a start-up in Unicode tables and generic code.
        guard mentionsSecret(line) else { return line }
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

    /// Whether `line` may hold a secret: it holds `token=`, `authorization` or `cookie` in any ASCII
    /// case (every secret `masked` replaces follows one of them), or text beyond ASCII, which the
    /// expressions match case-insensitively by Unicode's rules (K, the Kelvin sign, is a k there).
    static func mentionsSecret(_ line: String) -> Bool {
        var line = line
        return line.withUTF8 { bytes in
            bytes.contains { $0 >= 0x80 }
                || needles.contains { needle in
                    guard bytes.count >= needle.count else { return false }
                    return (0...(bytes.count - needle.count)).contains { start in
                        needle.indices.allSatisfy { asciiLowercased(bytes[start + $0]) == needle[$0] }
                    }
                }
        }
    }

    private static let needles: [[UInt8]] = [Array("token=".utf8), Array("authorization".utf8), Array("cookie".utf8)]

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
