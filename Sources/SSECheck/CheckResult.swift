/// One graded check of `drip check`: its name (`status`, `resume`, …), the verdict, the evidence it
/// rests on (what was sent, what came back, how long it took) and, for a WARN or a FAIL, what to
/// change.
///
/// Invariant: `evidence` is never empty; `advice` is nil for a PASS.
public struct CheckResult: Sendable, Hashable {
    /// How a check came out. Only `fail` makes `drip check` exit 1.
    public enum Verdict: String, Sendable, Hashable, CaseIterable {
        case pass = "PASS"
        case warn = "WARN"
        case fail = "FAIL"
        /// Not applicable to this run (`cors` without `--origin`); says why in the evidence.
        case skip = "SKIP"
    }

    public var name: String
    public var verdict: Verdict
    public var evidence: String
    public var advice: String?
    /// How long the check took, for the JUnit report.
    public var seconds: Double

    public init(_ name: String, _ verdict: Verdict, _ evidence: String, advice: String? = nil, seconds: Double = 0) {
        self.name = name
        self.verdict = verdict
        self.evidence = evidence
        self.advice = verdict == .pass ? nil : advice
        self.seconds = seconds
    }

    /// PASS when `passed`, otherwise the given verdict with its advice.
    public static func judged(
        _ name: String, _ passed: Bool, _ evidence: String, otherwise verdict: Verdict = .fail, advice: String
    ) -> CheckResult {
        CheckResult(name, passed ? .pass : verdict, evidence, advice: advice)
    }
}

extension Duration {
    /// Milliseconds, for evidence ("in 12 ms").
    var evidenceText: String {
        let milliseconds = Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
        if milliseconds < 10 { return "\((milliseconds * 10).rounded() / 10) ms" }
        if milliseconds < 1000 { return "\(Int(milliseconds.rounded())) ms" }
        return "\((milliseconds / 100).rounded() / 10) s"
    }
}
