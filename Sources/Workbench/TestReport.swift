import EventStream

/// TAP 13 and JUnit XML for a list of test cases: the one writer of both, for `drip run` (each
/// expectation a case) and `drip check` (each check a case).
///
/// Invariant: a case's TAP line never holds a `#` that TAP would read as a directive, nor a line
/// break; every text in the XML is escaped by `XMLText`.
struct TestReport {
    /// One case: where it belongs (a JUnit suite), its name and how it came out.
    struct Case {
        enum Outcome: Equatable {
            case passed
            /// Passed, with something to change (a check's WARN): TAP `ok` with the message, JUnit output.
            case warned
            case failed
            /// Could not run (a script error).
            case error
            case skipped
        }

        var suite: String
        var name: String
        var outcome: Outcome
        var message: String
        var seconds: Double
    }

    var title: String
    var cases: [Case]

    var tapLines: [String] {
        var lines = ["TAP version 13", "1..\(cases.count)"]
        for (index, test) in cases.enumerated() {
            let ok = [.passed, .warned, .skipped].contains(test.outcome)
            let directive = test.outcome == .skipped ? " # SKIP \(Self.tapSafe(test.message))" : ""
            lines.append("\(ok ? "ok" : "not ok") \(index + 1) - \(Self.tapSafe(test.name))\(directive)")
            let severity: String? =
                switch test.outcome {
                case .passed, .skipped: nil
                case .warned: "warn"
                case .failed: "fail"
                case .error: "error"
                }
            if let severity {
                lines += ["  ---", "  message: \(JSONValue.string(test.message).serialized)", "  severity: \(severity)", "  ..."]
            }
        }
        return lines
    }

    var junitXML: String {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        xml +=
            #"<testsuites name="\#(XMLText.escaped(title))" tests="\#(cases.count)" failures="\#(count(.failed))" errors="\#(count(.error))">"#
            + "\n"
        let suites = cases.map(\.suite).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for suite in suites {
            let members = TestReport(title: suite, cases: cases.filter { $0.suite == suite })
            xml +=
                #"  <testsuite name="\#(XMLText.escaped(suite))" tests="\#(members.cases.count)" failures="\#(members.count(.failed))" errors="\#(members.count(.error))" skipped="\#(members.count(.skipped))">"#
                + "\n"
            for test in members.cases {
                xml +=
                    #"    <testcase classname="\#(XMLText.escaped(suite))" name="\#(XMLText.escaped(test.name))" time="\#(String(format2: test.seconds))""#
                let message = XMLText.escaped(test.message)
                switch test.outcome {
                case .passed: xml += "/>\n"
                case .warned: xml += ">\n      <system-out>WARN \(message)</system-out>\n    </testcase>\n"
                case .skipped: xml += ">\n      <skipped message=\"\(message)\"/>\n    </testcase>\n"
                case .failed, .error:
                    let tag = test.outcome == .error ? "error" : "failure"
                    xml += ">\n      <\(tag) message=\"\(message)\">\(message)</\(tag)>\n    </testcase>\n"
                }
            }
            xml += "  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    private func count(_ outcome: Case.Outcome) -> Int { cases.filter { $0.outcome == outcome }.count }

    private static func tapSafe(_ text: String) -> String {
        String(text.map { $0 == "#" ? "＃" : $0 == "\n" ? " " : $0 })
    }
}
