#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writing a timeline to a file: an HTML report (`.html`, `.htm`) or JSON lines (anything else,
/// `.jsonl` by custom). The file is written whole to a temporary name beside it and renamed, so a
/// reader never sees half a report.
public enum TimelineFiles {
    /// Whether `path` names an HTML report rather than JSON lines.
    public static func isReport(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".html") || lower.hasSuffix(".htm")
    }

    /// Writes `text` to `path`; nil, or why it could not.
    public static func write(_ text: String, to path: String) -> String? {
        let temporary = path + ".part"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return String(cString: strerror(errno)) }
        let failure = Recorder.writeAll(Array(text.utf8), to: descriptor)
        close(descriptor)
        if let failure {
            unlink(temporary)
            return failure
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return reason
        }
        return nil
    }

    /// The session's verdicts as the report lists them, from its expectation entries.
    static func verdicts(of timeline: Timeline) -> [ReportPage.Verdict] {
        timeline.entries.compactMap { entry in
            guard case .expectation(let passed, let summary, let detail, let origin) = entry.kind else { return nil }
            return ReportPage.Verdict(origin: origin ?? "at \(TimelineDrawing.label(entry.at))", summary: summary, passed: passed, detail: detail)
        }
    }
}

extension Engine {
    /// `timeline FILE`: the session so far, drawn (`.html`) or as JSON lines.
    func writeTimeline(_ command: ParsedCommand) throws(CommandError) {
        let path = command.argument("file") ?? ""
        let timeline = Timeline(self.timeline)
        let text =
            TimelineFiles.isReport(path)
            ? ReportPage(
                title: "drip session", sections: [.init(title: "the session", verdicts: TimelineFiles.verdicts(of: timeline), timeline: timeline)]
            ).html
            : timeline.jsonLines().map { $0 + "\n" }.joined()
        if let failure = TimelineFiles.write(text, to: path) { throw CommandError("timeline: cannot write \(path): \(failure)", column: 10) }
        let size =
            "\(timeline.entries.count) entr\(timeline.entries.count == 1 ? "y" : "ies") on \(timeline.lanes.count) lane\(timeline.lanes.count == 1 ? "" : "s")"
        report(.info("timeline \(path)"), ["timeline written to \(path): \(size)"])
    }
}
