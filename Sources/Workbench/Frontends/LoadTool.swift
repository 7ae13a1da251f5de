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
            "connect       p50 \(ms(report.connectMilliseconds.p50))  p99 \(ms(report.connectMilliseconds.p99))  max \(ms(report.connectMilliseconds.max))",
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
        func number(_ value: Double) -> JSONValue { .number(String(format2: value)) }
        func percentiles(_ value: Percentiles) -> JSONValue {
            .object([("p50", number(value.p50)), ("p99", number(value.p99)), ("max", number(value.max))])
        }
        return JSONValue.object([
            ("subscribers", .number(String(report.subscribersConnected))),
            ("connectFailures", .number(String(report.connectFailures.values.reduce(0, +)))),
            ("connectMs", percentiles(report.connectMilliseconds)),
            ("published", .number(String(report.published))),
            ("delivered", .number(String(report.delivered))),
            ("deliverySeconds", number(report.deliverySeconds)),
            ("deliveredPerSecond", number(report.deliveredPerSecond)),
            ("latencyMs", percentiles(report.latencyMilliseconds)),
            ("lost", .number(String(report.lost))),
            ("streamErrors", .number(String(report.streamErrors.values.reduce(0, +)))),
            ("duplicated", .number(String(report.duplicated))),
            ("outOfOrder", .number(String(report.outOfOrder))),
            ("disconnected", .number(String(report.disconnected))),
            ("churned", .number(String(report.churned))),
            ("churnFailures", .number(String(report.churnFailures))),
            ("peakConnections", .number(String(report.peakConnections))),
        ]).serialized
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
