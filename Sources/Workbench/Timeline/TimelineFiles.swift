/// Writing a timeline to a file (whole, through `WholeFile`): an HTML report (`.html`, `.htm`) or
/// JSON lines (anything else, `.jsonl` by custom).
public enum TimelineFiles {
    /// Whether `path` names an HTML report rather than JSON lines.
    public static func isReport(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".html") || lower.hasSuffix(".htm")
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
        if let failure = WholeFile.write(text, to: path) { throw CommandError("timeline: cannot write \(path): \(failure)", column: 10) }
        let size =
            "\(timeline.entries.count) entr\(timeline.entries.count == 1 ? "y" : "ies") on \(timeline.lanes.count) lane\(timeline.lanes.count == 1 ? "" : "s")"
        report(.info("timeline \(path)"), ["timeline written to \(path): \(size)"])
    }
}
