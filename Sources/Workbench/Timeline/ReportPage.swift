import EventStream

/// The report of a run (`drip run --report`) or a session (the REPL's `timeline FILE.html`): one
/// self-contained HTML file — no network, no script, no external asset, so it opens from disk and
/// prints — with, per script, its verdicts and its timeline drawn (`TimelineDrawing`).
public struct ReportPage: Sendable {
    /// One expectation's outcome (or a script error), with where it was written.
    public struct Verdict: Sendable, Hashable {
        public var origin: String
        public var summary: String
        public var passed: Bool
        public var detail: String

        public init(origin: String, summary: String, passed: Bool, detail: String) {
            self.origin = origin
            self.summary = summary
            self.passed = passed
            self.detail = detail
        }
    }

    /// One script's part of the report.
    public struct Section: Sendable {
        public var title: String
        public var verdicts: [Verdict]
        public var timeline: Timeline

        public init(title: String, verdicts: [Verdict], timeline: Timeline) {
            self.title = title
            self.verdicts = verdicts
            self.timeline = timeline
        }
    }

    public var title: String
    public var sections: [Section]

    public init(title: String, sections: [Section]) {
        self.title = title
        self.sections = sections
    }

    private static let style = """
        body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 24px auto; max-width: 1300px; padding: 0 12px; }
        h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 6px; }
        .summary { color: #555; margin: 0 0 12px; }
        table { border-collapse: collapse; margin: 8px 0 14px; width: 100%; }
        td, th { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
        td.verdict { font-weight: bold; white-space: nowrap; } tr.pass td.verdict { color: #2e7d32; } tr.fail td.verdict { color: #c62828; }
        tr.fail { background: #fff1f1; } td.origin { font-family: ui-monospace, monospace; white-space: nowrap; color: #555; }
        .drawing { overflow-x: auto; border: 1px solid #ddd; } .drawing svg { display: block; max-width: 100%; height: auto; }
        .legend { color: #555; font-size: 12px; }
        @media print { body { margin: 0; max-width: none; } .drawing { border: none; } tr.fail { background: none; } }
        """

    public var html: String {
        let passed = sections.flatMap(\.verdicts).filter(\.passed).count
        let total = sections.flatMap(\.verdicts).count
        var page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        page += "<title>\(XMLText.escaped(title))</title><style>\(Self.style)</style></head><body>\n"
        page += "<h1>\(XMLText.escaped(title))</h1>\n"
        page += "<p class=\"summary\">\(passed) of \(total) expectation\(total == 1 ? "" : "s") passed"
        page += total == passed ? "" : " — <strong style=\"color:#c62828\">\(total - passed) failed</strong>"
        page += "</p>\n<p class=\"legend\">Time runs left to right; each row is a lane: the session (commands ▏, expectations ✓ ✗), "
        page += "each server connection, each client (a reconnection is the next segment of its row), each proxied exchange. "
        page += "Filled dots are events, hollow ones replayed from history; a red cross is a drop; a dashed gap is the wait "
        page += "before reconnecting. Hover anything for the details.</p>\n"
        for section in sections {
            page += "<section class=\"script\"><h2>\(XMLText.escaped(section.title))</h2>\n"
            if section.verdicts.isEmpty {
                page += "<p class=\"summary\">No expectations.</p>\n"
            } else {
                page += "<table><tr><th></th><th>where</th><th>expectation</th><th>what was seen</th></tr>\n"
                for verdict in section.verdicts {
                    page += "<tr class=\"\(verdict.passed ? "pass" : "fail")\"><td class=\"verdict\">\(verdict.passed ? "✓ pass" : "✗ FAIL")</td>"
                    page += "<td class=\"origin\">\(XMLText.escaped(verdict.origin))</td><td>\(XMLText.escaped(verdict.summary))</td>"
                    page += "<td>\(XMLText.escaped(verdict.passed ? "" : verdict.detail))</td></tr>\n"
                }
                page += "</table>\n"
            }
            if section.timeline.dropped > 0 {
                page += "<p class=\"summary\">The timeline was full: \(section.timeline.dropped) later happenings are not drawn.</p>\n"
            }
            page += "<div class=\"drawing\">\(TimelineDrawing(section.timeline).svg)</div></section>\n"
        }
        return page + "</body></html>\n"
    }
}

extension Timeline {
    /// The entries as JSON lines (`drip run --timeline`): one object per entry, with `script` when given.
    public func jsonLines(script: String? = nil) -> [String] {
        entries.map { Self.jsonLine($0, lane: lanes[$0.lane], script: script) }
    }

    /// One entry as a JSON object on one line.
    static func jsonLine(_ entry: Entry, lane: Lane, script: String? = nil) -> String {
        var members: [(key: String, value: JSONValue)] = []
        if let script { members.append(("script", .string(script))) }
        members += [
            ("atMs", .number(String(format3(entry.at.secondsValue * 1000)))), ("lane", .string(lane.name)),
            ("side", .string(lane.side.rawValue)),
        ]
        if !lane.group.isEmpty { members.append(("group", .string(lane.group))) }
        members += entry.kind.jsonMembers
        return JSONValue.object(members).serialized
    }

    private static func format3(_ value: Double) -> String {
        let thousandths = Int((value * 1000).rounded())
        let fraction = abs(thousandths % 1000)
        return "\(thousandths / 1000).\(fraction < 10 ? "00" : fraction < 100 ? "0" : "")\(fraction)"
    }
}

extension Timeline.Kind {
    fileprivate var jsonMembers: [(key: String, value: JSONValue)] {
        let optional = { (value: String?) in value.map(JSONValue.string) ?? .null }
        return switch self {
        case .command(let line, let origin): [("kind", .string("command")), ("line", .string(line)), ("origin", optional(origin))]
        case .serverListening(let url): [("kind", .string("listening")), ("url", .string(url))]
        case .serverStopped: [("kind", .string("stopped"))]
        case .opened(let lastEventId): [("kind", .string("opened")), ("lastEventId", optional(lastEventId))]
        case .event(let type, let id, let data, let replayed):
            [("kind", .string("event")), ("type", .string(type)), ("id", optional(id)), ("data", .string(data)), ("replayed", .bool(replayed))]
        case .replay(let count, let lastEventId):
            [("kind", .string("replay")), ("count", .number(String(count))), ("lastEventId", .string(lastEventId))]
        case .ended(let reason, let byFault): [("kind", .string("ended")), ("reason", .string(reason)), ("byFault", .bool(byFault))]
        case .waiting(let delay): [("kind", .string("waiting")), ("delayMs", .number(String(Int(delay.secondsValue * 1000))))]
        case .refused(let status): [("kind", .string("refused")), ("status", .number(String(status)))]
        case .closed(let reason, let isFailure): [("kind", .string("closed")), ("reason", .string(reason)), ("failure", .bool(isFailure))]
        case .expectation(let passed, let summary, let detail, let origin):
            [
                ("kind", .string("expectation")), ("passed", .bool(passed)), ("summary", .string(summary)), ("detail", .string(detail)),
                ("origin", optional(origin)),
            ]
        }
    }
}
