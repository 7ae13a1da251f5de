/// Text made safe for XML and HTML, in element content and in attribute values alike: the one
/// escaping of JUnit reports, SVG drawings and HTML reports.
enum XMLText {
    /// `&`, `<`, `>`, both quotes and line feeds as references; controls XML 1.0 cannot carry (all
    /// below U+0020 but tab) as U+FFFD.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "\n": result += "&#10;"
            case _ where scalar.value < 0x20 && scalar != "\t": result += "\u{FFFD}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
