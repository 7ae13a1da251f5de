/// The two rules of HTTP syntax that keep a string from splitting a message (RFC 9110): what may be a
/// method or header name, and what may be a header value. The client's request writer and the
/// server's answers (routes, rejections a script writes) both check with these.
public enum HTTPSyntax {
    /// RFC 9110 §5.6.2: one or more of ALPHA, DIGIT and the characters `!#$%&'*+-.^_|~` and the backtick.
    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
    }

    /// RFC 9110 §5.5: visible characters, spaces, tabs and bytes from 0x80 up (obs-text, UTF-8); no
    /// CR, LF, NUL or other control.
    public static func isFieldValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 == 0x09 || (0x20...0x7E).contains($0) || $0 >= 0x80 }
    }

    /// `text` without the optional whitespace (spaces and tabs, RFC 9110 §5.6.3) at either end.
    public static func trimmingWhitespace(_ text: some StringProtocol) -> String {
        var text = Substring(text)
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}
