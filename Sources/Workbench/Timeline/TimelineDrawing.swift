import EventStream

/// A `Timeline` drawn as an SVG sequence diagram: time across, lanes down, 1280 units wide. Each
/// connection is a segment of its lane; events are dots labelled with type and id (hollow when
/// replayed from history); a drop is a red cross with its reason; a client's wait before
/// reconnecting is a dashed gap labelled with its length; a resume is labelled with the
/// `Last-Event-ID` it carried; expectations are marks on the session lane, failures with a red band
/// across every lane. Pure: the same timeline gives the same text (a snapshot test holds it).
///
/// Every element a test or a reader looks for has a class (`lane`, `segment`, `event`, `replayed`,
/// `drop`, `gap`, `resume`, `expectation`, `failed`) and a `<title>` with the whole story.
public struct TimelineDrawing: Sendable {
    public static let width = 1280
    static let labelWidth = 210
    static let rowHeight = 36
    static let top = 40
    static let rightMargin = 24
    /// The closest two labels of one lane may be, in units; closer ones keep only their `<title>`.
    static let labelSpacing = 44

    public let timeline: Timeline

    public init(_ timeline: Timeline) { self.timeline = timeline }

    /// The lanes in drawing order: the session first, then server lanes by stream, clients, proxies.
    var orderedLanes: [Int] {
        let order: [Timeline.Lane.Side] = [.session, .server, .client, .proxy]
        return timeline.lanes.indices.sorted { a, b in
            let (left, right) = (timeline.lanes[a], timeline.lanes[b])
            let (sideA, sideB) = (order.firstIndex(of: left.side) ?? 0, order.firstIndex(of: right.side) ?? 0)
            if sideA != sideB { return sideA < sideB }
            if left.group != right.group { return left.group < right.group }
            return a < b
        }
    }

    public var svg: String {
        let rows = orderedLanes
        let height = Self.top + max(1, rows.count) * Self.rowHeight + 16
        let span = max(timeline.duration, .milliseconds(1))
        let plot = Double(Self.width - Self.labelWidth - Self.rightMargin)
        func x(_ at: Duration) -> Int { Self.labelWidth + Int((min(at, span).secondsValue / span.secondsValue * plot).rounded()) }
        var out = SVGText()
        out.open(
            "svg",
            [
                "xmlns": "http://www.w3.org/2000/svg", "viewBox": "0 0 \(Self.width) \(height)", "width": "\(Self.width)", "class": "timeline",
                "font-family": "system-ui, sans-serif", "font-size": "11",
            ])
        out.element("rect", ["x": "0", "y": "0", "width": "\(Self.width)", "height": "\(height)", "fill": "#ffffff"])
        drawAxis(&out, span: span, height: height, x: x)
        for entry in timeline.entries {
            guard case .expectation(false, let summary, let detail, _) = entry.kind else { continue }
            out.open(
                "rect",
                [
                    "class": "failed", "x": "\(x(entry.at) - 2)", "y": "\(Self.top)", "width": "4", "height": "\(height - Self.top - 16)",
                    "fill": "#f4b4b4",
                ])
            out.title("FAILED: \(summary) — \(detail)")
            out.close("rect")
        }
        for (row, laneIndex) in rows.enumerated() {
            drawLane(&out, laneIndex, y: Self.top + row * Self.rowHeight + Self.rowHeight / 2, x: x)
        }
        out.close("svg")
        return out.text
    }

    private func drawAxis(_ out: inout SVGText, span: Duration, height: Int, x: (Duration) -> Int) {
        let step = Self.tickStep(for: span)
        var tick = Duration.zero
        out.open("g", ["class": "axis", "fill": "#666", "stroke": "#e4e4e4"])
        while tick <= span {
            let position = x(tick)
            out.element("line", ["x1": "\(position)", "y1": "\(Self.top - 8)", "x2": "\(position)", "y2": "\(height - 16)"])
            if position + 48 <= Self.width { out.text(Self.label(tick), ["x": "\(position + 3)", "y": "\(Self.top - 12)", "stroke": "none"]) }
            tick += step
        }
        out.close("g")
    }

    private func drawLane(_ out: inout SVGText, _ laneIndex: Int, y: Int, x: (Duration) -> Int) {
        let lane = timeline.lanes[laneIndex]
        out.open("g", ["class": "lane \(lane.side.rawValue)", "data-lane": lane.name])
        out.text(lane.name, ["x": "8", "y": "\(y + 4)", "fill": "#222", "font-weight": lane.side == .session ? "bold" : "normal"])
        out.element("line", ["x1": "\(Self.labelWidth)", "y1": "\(y)", "x2": "\(Self.width - Self.rightMargin)", "y2": "\(y)", "stroke": "#f0f0f0"])
        var segmentStart: Int?
        var lastLabel = -Self.width
        func labelled(_ position: Int) -> Bool {
            guard position - lastLabel >= Self.labelSpacing else { return false }
            lastLabel = position
            return true
        }
        func endSegment(at position: Int, _ title: String) {
            guard let start = segmentStart else { return }
            out.open(
                "line",
                [
                    "class": "segment", "x1": "\(start)", "y1": "\(y)", "x2": "\(max(position, start + 1))", "y2": "\(y)", "stroke": "#3f8f5f",
                    "stroke-width": "4",
                ])
            out.title(title)
            out.close("line")
            segmentStart = nil
        }
        for entry in timeline.entries where entry.lane == laneIndex {
            let position = x(entry.at)
            switch entry.kind {
            case .command(let line, let origin):
                out.open("g", ["class": "command"])
                out.element("line", ["x1": "\(position)", "y1": "\(y - 8)", "x2": "\(position)", "y2": "\(y + 8)", "stroke": "#888"])
                out.title((origin.map { "\($0): " } ?? "") + line)
                if labelled(position) { out.text(Self.shortened(line, 18), ["x": "\(position + 3)", "y": "\(y - 6)", "fill": "#555"]) }
                out.close("g")
            case .serverListening(let url):
                out.open("circle", ["class": "listening", "cx": "\(position)", "cy": "\(y)", "r": "5", "fill": "#3f8f5f"])
                out.title("the server listens on \(url)")
                out.close("circle")
            case .serverStopped:
                out.open("rect", ["class": "stopped", "x": "\(position - 4)", "y": "\(y - 4)", "width": "8", "height": "8", "fill": "#444"])
                out.title("the server stopped")
                out.close("rect")
            case .opened(let lastEventId):
                segmentStart = position
                if let lastEventId {
                    out.text(
                        "Last-Event-ID: \(lastEventId)", x: position + 2, limit: Self.width - 4,
                        ["class": "resume", "y": "\(y + 15)", "fill": "#1f5fa8"])
                }
            case .event(let type, let id, let data, let replayed):
                let name = type + (id.map { " \($0)" } ?? "")
                out.open(
                    "circle",
                    [
                        "class": replayed ? "event replayed" : "event", "cx": "\(position)", "cy": "\(y)", "r": "4",
                        "fill": replayed ? "#ffffff" : "#1f5fa8", "stroke": "#1f5fa8", "stroke-width": "1.5",
                    ])
                out.title("\(name) at \(Self.label(entry.at))" + (data.isEmpty ? "" : ": \(Self.shortened(data, 200))"))
                out.close("circle")
                if labelled(position) { out.text(Self.shortened(name, 10), ["x": "\(position - 4)", "y": "\(y - 8)", "fill": "#1f5fa8"]) }
            case .replay(let count, let lastEventId):
                out.open("text", ["class": "history", "x": "\(position + 4)", "y": "\(y - 8)", "fill": "#7a4fa0"])
                out.title("\(count) event\(count == 1 ? "" : "s") sent again from history after id \(lastEventId)")
                out.raw(XMLText.escaped("history ×\(count)"))
                out.close("text")
                lastLabel = position
            case .ended(let reason, let byFault):
                endSegment(at: position, "connected until \(Self.label(entry.at)): \(reason)")
                if byFault {
                    out.open("g", ["class": "drop", "stroke": "#c62828", "stroke-width": "2.5"])
                    out.element("line", ["x1": "\(position - 5)", "y1": "\(y - 5)", "x2": "\(position + 5)", "y2": "\(y + 5)"])
                    out.element("line", ["x1": "\(position - 5)", "y1": "\(y + 5)", "x2": "\(position + 5)", "y2": "\(y - 5)"])
                    out.title(reason)
                    out.close("g")
                    out.text(Self.shortened(reason, 28), x: position + 7, limit: Self.width - 4, ["y": "\(y + 15)", "fill": "#c62828"])
                } else {
                    out.open(
                        "line",
                        [
                            "class": "end", "x1": "\(position)", "y1": "\(y - 6)", "x2": "\(position)", "y2": "\(y + 6)", "stroke": "#444",
                            "stroke-width": "2",
                        ])
                    out.title(reason)
                    out.close("line")
                }
            case .waiting(let delay):
                let end = x(entry.at + delay)
                out.open("g", ["class": "gap"])
                out.element(
                    "line",
                    [
                        "x1": "\(position)", "y1": "\(y)", "x2": "\(max(end, position + 2))", "y2": "\(y)", "stroke": "#999", "stroke-width": "2",
                        "stroke-dasharray": "4 3",
                    ])
                out.title("waits \(Self.label(delay)) before reconnecting")
                out.text(
                    "wait \(Self.label(delay))",
                    ["x": "\((position + max(end, position + 2)) / 2)", "y": "\(y - 8)", "fill": "#666", "text-anchor": "middle"])
                out.close("g")
                lastLabel = position
            case .refused(let status):
                endSegment(at: position, "refused: \(status)")
                out.open("text", ["class": "refused", "x": "\(position + 3)", "y": "\(y + 4)", "fill": "#c62828", "font-weight": "bold"])
                out.title("answered \(status): the stream did not open")
                out.raw("\(status)")
                out.close("text")
            case .closed(let reason, let isFailure):
                endSegment(at: position, reason)
                out.open(
                    "rect",
                    [
                        "class": isFailure ? "closed failure" : "closed", "x": "\(position - 2)", "y": "\(y - 8)", "width": "4", "height": "16",
                        "fill": isFailure ? "#c62828" : "#444",
                    ])
                out.title((isFailure ? "failed: " : "closed: ") + reason)
                out.close("rect")
            case .expectation(let passed, let summary, let detail, let origin):
                out.open(
                    "text",
                    [
                        "class": passed ? "expectation" : "expectation failed", "x": "\(position - 4)", "y": "\(y + 16)",
                        "fill": passed ? "#2e7d32" : "#c62828", "font-weight": "bold",
                    ])
                out.title((origin.map { "\($0): " } ?? "") + (passed ? "passed: " : "FAILED: ") + summary + (detail.isEmpty ? "" : " — \(detail)"))
                out.raw(passed ? "✓" : "✗")
                out.close("text")
            }
        }
        endSegment(at: x(timeline.duration), "still connected at the end")
        out.close("g")
    }

    /// A step for the time axis giving about eight to twelve ticks: 1, 2 or 5 times a power of ten ms.
    static func tickStep(for span: Duration) -> Duration {
        let milliseconds = max(1, span.secondsValue * 1000 / 10)
        var magnitude = 1.0
        while magnitude * 10 <= milliseconds { magnitude *= 10 }
        let step = [1.0, 2, 5, 10].first { $0 * magnitude >= milliseconds } ?? 10
        return .milliseconds(Int64(step * magnitude))
    }

    /// `340 ms`, `1.25 s`: how long, in the unit a person reads at a glance.
    static func label(_ duration: Duration) -> String {
        let milliseconds = duration.secondsValue * 1000
        if milliseconds < 1000 { return "\(Int(milliseconds.rounded())) ms" }
        let hundredths = Int((milliseconds / 10).rounded())
        let text = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
        return text.replacingSuffix(".00", with: "") + " s"
    }

    static func shortened(_ text: String, _ limit: Int) -> String {
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return line.count <= limit && !text.contains("\n") ? line : String(line.prefix(limit - 1)) + "…"
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String, with replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}

/// SVG (and HTML) text built element by element, every attribute value and text escaped.
struct SVGText {
    private(set) var text = ""

    private static func attributes(_ attributes: KeyValuePairs<String, String>) -> String {
        attributes.map { " \($0.key)=\"\(XMLText.escaped($0.value))\"" }.joined()
    }

    mutating func open(_ name: String, _ attributes: KeyValuePairs<String, String> = [:]) {
        text += "<\(name)\(Self.attributes(attributes))>"
    }

    mutating func close(_ name: String) { text += "</\(name)>\n" }

    mutating func element(_ name: String, _ attributes: KeyValuePairs<String, String>) {
        text += "<\(name)\(Self.attributes(attributes))/>"
    }

    mutating func text(_ content: String, _ attributes: KeyValuePairs<String, String>) {
        open("text", attributes)
        raw(XMLText.escaped(content))
        close("text")
    }

    /// Text at `x` that ends there instead when it would run past `limit` (about 6 units a character).
    mutating func text(_ content: String, x: Int, limit: Int, _ attributes: KeyValuePairs<String, String>) {
        let fits = x + content.count * 6 <= limit
        text += "<text x=\"\(fits ? x : limit)\"\(fits ? "" : " text-anchor=\"end\"")"
        text += attributes.map { " \($0.key)=\"\(XMLText.escaped($0.value))\"" }.joined() + ">"
        raw(XMLText.escaped(content))
        close("text")
    }

    mutating func title(_ content: String) { text += "<title>\(XMLText.escaped(content))</title>" }

    /// Text already escaped (or markup made here).
    mutating func raw(_ content: String) { text += content }
}
