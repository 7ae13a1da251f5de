extension String {
    /// This text with every control character other than tab shown as an escape (`\u{1B}`), so that
    /// what a server, a script or a typist sent can be printed to a terminal without driving it:
    /// no colour changes, cursor moves, title changes or bells from someone else's bytes. C0, DEL
    /// and C1 characters and the bidirectional controls are escaped; everything else is kept.
    var visibleOnTerminal: String {
        guard utf8.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F || $0 == 0xC2 || $0 == 0xD8 || $0 == 0xE2 }) else { return self }
        var result = ""
        result.reserveCapacity(utf8.count)
        for scalar in unicodeScalars {
            let value = scalar.value
            if value < 0x20 && value != 0x09 || (0x7F...0x9F).contains(value) || Self.bidiControls.contains(value) {
                result += "\\u{" + String(value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// The bidirectional controls (ALM, LRM, RLM, the embeddings and overrides, the isolates): raw,
    /// they reorder the rest of the terminal line.
    static let bidiControls: Set<UInt32> = [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
}
