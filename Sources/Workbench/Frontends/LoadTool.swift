import EventStream
import SSEClient
import SSELoad

/// `drip load`: runs a load and prints its report, as a table for people or one JSON object.
public struct LoadTool: Sendable {
    public var options: LoadOptions
    public var json: Bool

    public init(options: LoadOptions, json: Bool) {
        self.options = options
        self.json = json
    }

    public func run() async -> Int32 {
        let report: LoadReport
        do {
            report = try await LoadGenerator.run(options) { message in
                if !json { Console.standardError.line("drip load: \(message)") }
            }
        } catch {
            Console.standardError.line("drip load: \(error)")
            return 1
        }
        Console.standardOutput.line(json ? Self.json(report) : Self.table(report))
        if report.subscribersConnected < options.clients || report.lost > 0 || !report.streamErrors.isEmpty { return 1 }
        return 0
    }

    static func table(_ report: LoadReport) -> String {
        func ms(_ value: Double) -> String { String(format2: value) + " ms" }
        var lines = [
            "subscribers   \(report.subscribersConnected) connected"
                + (report.connectFailures.isEmpty
                    ? "" : ", failed: " + report.connectFailures.map { "\($0.value)× \($0.key)" }.joined(separator: "; ")),
            "connect       \(report.subscribersConnected) in \(String(format2: report.connectSeconds)) s = \(Int(report.connectsPerSecond.rounded()))/s   "
                + "p50 \(ms(report.connectMilliseconds.p50))  p99 \(ms(report.connectMilliseconds.p99))  max \(ms(report.connectMilliseconds.max))",
        ]
        if report.published > 0 {
            lines.append("published     \(report.published) events in \(String(format2: report.publishSeconds)) s")
        }
        lines += [
            "delivered     \(report.delivered) events in \(String(format2: report.deliverySeconds)) s = \(Int(report.deliveredPerSecond.rounded())) events/s"
        ]
        if report.latencyMilliseconds.count > 0 {
            lines.append(
                "latency       p50 \(ms(report.latencyMilliseconds.p50))  p99 \(ms(report.latencyMilliseconds.p99))  max \(ms(report.latencyMilliseconds.max))"
            )
        }
        if let line = fanOutLine(LoadReportFile(report)) { lines.append(line) }
        if report.churned > 0 || report.churnFailures > 0 {
            lines.append("churned       \(report.churned) connections subscribed, read and vanished; \(report.churnFailures) could not subscribe")
        }
        lines.append("peak          \(report.peakConnections) connections open at once")
        lines.append(
            "lost          \(report.lost)   duplicated \(report.duplicated)   out of order \(report.outOfOrder)   disconnected \(report.disconnected)"
        )
        if !report.streamErrors.isEmpty {
            lines.append("stream errors " + report.streamErrors.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }.joined(separator: "; "))
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ report: LoadReport) -> String {
        JSONValue.object(
            [("connectMs", percentiles(report.connectMilliseconds.p50, report.connectMilliseconds.p99, report.connectMilliseconds.max))]
                + fields(
                    LoadReportFile(report),
                    latency: percentiles(report.latencyMilliseconds.p50, report.latencyMilliseconds.p99, report.latencyMilliseconds.max))
                + [("churned", .number(String(report.churned))), ("churnFailures", .number(String(report.churnFailures)))]
        ).serialized
    }

    private static func number(_ value: Double) -> JSONValue { .number(String(format2: value)) }

    /// The time for one event to reach every subscriber, over the events that did; nil without a publisher.
    static func fanOutLine(_ summary: LoadReportFile) -> String? {
        guard !summary.fanOutMicroseconds.isEmpty else { return nil }
        func ms(_ value: Double) -> String { String(format2: value) + " ms" }
        let fanOut = summary.fanOutMilliseconds
        return "fan-out       p50 \(ms(fanOut.p50))  p99 \(ms(fanOut.p99))  max \(ms(fanOut.max))  "
            + "(from send to the last of \(summary.subscribers - summary.disconnected) subscribers; "
            + "\(fanOut.count) of \(summary.fanOutMicroseconds.count) events reached all)"
    }

    private static func percentiles(_ p50: Double, _ p99: Double, _ max: Double) -> JSONValue {
        .object([("p50", number(p50)), ("p99", number(p99)), ("max", number(max))])
    }

    /// The fields a run's report and a merged one share (what `drip load merge` reads back).
    private static func fields(_ summary: LoadReportFile, latency: JSONValue) -> [(key: String, value: JSONValue)] {
        [
            ("subscribers", .number(String(summary.subscribers))),
            ("connectFailures", .number(String(summary.connectFailures))),
            ("published", .number(String(summary.published))),
            ("delivered", .number(String(summary.delivered))),
            ("deliverySeconds", number(summary.deliverySeconds)),
            ("deliveredPerSecond", number(summary.deliveredPerSecond)),
            ("latencyMs", latency),
            ("lost", .number(String(summary.lost))),
            ("streamErrors", .number(String(summary.streamErrors))),
            ("duplicated", .number(String(summary.duplicated))),
            ("outOfOrder", .number(String(summary.outOfOrder))),
            ("disconnected", .number(String(summary.disconnected))),
            ("peakConnections", .number(String(summary.peakConnections))),
            ("latencyHistogram", summary.latency.json),
            ("connectSeconds", number(summary.connectSeconds)),
        ] + fanOutFields(summary)
    }

    /// The fan-out percentiles and the per-event times `drip load merge` combines; none without a publisher.
    private static func fanOutFields(_ summary: LoadReportFile) -> [(key: String, value: JSONValue)] {
        guard !summary.fanOutMicroseconds.isEmpty else { return [] }
        let fanOut = summary.fanOutMilliseconds
        return [
            ("fanOutMs", percentiles(fanOut.p50, fanOut.p99, fanOut.max)),
            ("fanOutEventsReachingAll", .number(String(fanOut.count))),
            ("fanOutMicroseconds", .array(summary.fanOutMicroseconds.map { $0.map { .number(String($0)) } ?? .null })),
        ]
    }

    /// `drip load merge`: the reports in `paths` (each a `drip load --json` output) summed, as a
    /// table or one JSON object; 0 when nothing was lost and no subscriber failed, 1 otherwise, 2
    /// when a report cannot be read.
    public static func merge(paths: [String], json: Bool, fileSizeLimit: Int = InputFile.defaultSizeLimit) -> Int32 {
        guard !paths.isEmpty, paths.count <= LoadReportFile.maxFiles else {
            Console.standardError.line("drip load merge: give 1 to \(LoadReportFile.maxFiles) reports (drip load --json outputs)")
            return 2
        }
        var reports: [LoadReportFile] = []
        for path in paths {
            do throws(ToolError) {
                let text = String(decoding: try InputFile.contents(of: path, limit: fileSizeLimit), as: UTF8.self)
                do throws(LoadError) { reports.append(try LoadReportFile(json: text, what: path)) } catch {
                    throw ToolError(.badInput, error.description)
                }
            } catch {
                Console.standardError.line("drip load merge: \(error.message)")
                return 2
            }
        }
        let merged = LoadReportFile.merge(reports)
        Console.standardOutput.line(json ? mergedJSON(merged) : mergedTable(merged))
        return merged.lost > 0 || merged.connectFailures > 0 || merged.streamErrors > 0 ? 1 : 0
    }

    static func mergedTable(_ merged: LoadReportFile) -> String {
        func ms(_ value: Double) -> String { String(format2: value) + " ms" }
        let latency = merged.latency
        return [
            "processes     \(merged.processes) reports merged",
            "subscribers   \(merged.subscribers) connected" + (merged.connectFailures > 0 ? ", \(merged.connectFailures) failed" : ""),
            "published     \(merged.published) events (the most any process saw published)",
            "delivered     \(merged.delivered) events in \(String(format2: merged.deliverySeconds)) s = \(Int(merged.deliveredPerSecond.rounded())) events/s",
            "latency       p50 \(ms(latency.milliseconds(atPercentile: 50)))  p99 \(ms(latency.milliseconds(atPercentile: 99)))  max \(ms(latency.maxMilliseconds))  (of \(latency.count) deliveries, merged histograms)",
            fanOutLine(merged),
            "peak          \(merged.peakConnections) connections open at once (summed)",
            "lost          \(merged.lost)   duplicated \(merged.duplicated)   out of order \(merged.outOfOrder)   disconnected \(merged.disconnected)"
                + (merged.streamErrors > 0 ? "   stream errors \(merged.streamErrors)" : ""),
        ].compactMap { $0 }.joined(separator: "\n")
    }

    static func mergedJSON(_ merged: LoadReportFile) -> String {
        let latency = merged.latency
        return JSONValue.object(
            [("processes", .number(String(merged.processes)))]
                + fields(
                    merged,
                    latency: percentiles(
                        latency.milliseconds(atPercentile: 50), latency.milliseconds(atPercentile: 99), latency.maxMilliseconds))
        ).serialized
    }
}

extension String {
    /// `value` with two decimals.
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
